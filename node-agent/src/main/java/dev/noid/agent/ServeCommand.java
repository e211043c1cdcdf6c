package dev.noid.agent;

import dev.noid.agent.config.AgentConfig;
import dev.noid.agent.config.HostMemory;
import dev.noid.agent.config.NetworkConfig;
import dev.noid.agent.golden.GoldenKey;
import dev.noid.agent.golden.GoldenMode;
import dev.noid.api.agent.v1.HypervisorKind;
import dev.noid.agent.hypervisor.HypervisorChoice;
import dev.noid.common.config.ConfigChecks;
import dev.noid.common.config.ConfigException;
import dev.noid.common.logging.LogSetup;
import dev.noid.common.naming.ResourceNames;
import dev.noid.common.network.Subnet;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code noid-agent serve}: the long-running node agent. Every option is also a config key. */
@Command(name = "serve", mixinStandardHelpOptions = true,
    description = "Run the node agent (gRPC agent API, HTTPS per-VM metrics).")
public final class ServeCommand implements Callable<Integer> {
  @Option(names = "--config", paramLabel = "FILE",
      description = "Config file of 'key = value' lines; keys are these options' long names.")
  Path config;

  @Option(names = "--node-name", description = "This node's name (DNS label); default: the host name.")
  String nodeName;

  @Option(names = "--bind-address", defaultValue = "0.0.0.0", description = "Address to listen on.")
  String bindAddress;

  @Option(names = "--grpc-port", defaultValue = "7660", description = "Agent API port (mutual TLS).")
  int grpcPort;

  @Option(names = "--metrics-port", defaultValue = "9091", description = "HTTPS /metrics port.")
  int metricsPort;

  @Option(names = "--advertise-address",
      description = "host:port the controller uses to reach this agent; default: 127.0.0.1:GRPC_PORT.")
  String advertiseAddress;

  @Option(names = "--state-dir", defaultValue = "/var/lib/noid/agent",
      description = "VM directories, checkpoints, TLS material.")
  Path stateDir;

  @Option(names = "--log-file", description = "JSON-lines server log (default: STATE_DIR/server.log).")
  Path serverLog;

  @Option(names = "--audit-log", description = "JSON-lines audit log (default: STATE_DIR/audit.log).")
  Path auditLog;

  @Option(names = "--log-stderr", defaultValue = "false", description = "Also log to stderr.")
  boolean logToStderr;

  @Option(names = "--log-level", defaultValue = "INFO", description = "TRACE, DEBUG, INFO, WARN or ERROR.")
  String logLevel;

  @Option(names = "--controller", description = "Controller gRPC address host:port, or a comma list"
      + " of the controllers of the cluster (the agent follows the leader).")
  String controller;

  @Option(names = "--join-token", description = "One-time join token from 'noid-controller join-token'.")
  String joinToken;

  @Option(names = "--controller-ca", description = "CA file that signed the controller's certificate.")
  Path controllerCa;

  @Option(names = "--label", split = ",", description = "Node labels KEY=VALUE.")
  Map<String, String> labels = new LinkedHashMap<>();

  @Option(names = "--image-dir", split = ",",
      description = "Directories of images (one subdirectory with image.json per image);"
          + " default: /var/lib/noid/images and ~/.cache/noid/images.")
  List<Path> imageDirs = new ArrayList<>();

  @Option(names = "--qemu-binary", defaultValue = "qemu-system-x86_64", description = "QEMU executable.")
  String qemuBinary;

  @Option(names = "--accelerator", defaultValue = "auto",
      description = "auto, kvm or tcg (auto: KVM only where it can really boot a guest).")
  String accelerator;

  @Option(names = "--hypervisor", defaultValue = "auto",
      description = "auto, qemu or cloud-hypervisor (auto: Cloud Hypervisor where its binary runs"
          + " and KVM is hardware-backed, else QEMU). 'noid-agent check' shows the choice.")
  String hypervisor;

  @Option(names = "--cloud-hypervisor-binary", defaultValue = "cloud-hypervisor",
      description = "Cloud Hypervisor executable.")
  String cloudHypervisorBinary;

  @Option(names = "--restore-memory", defaultValue = "on-demand",
      description = "How guest RAM is restored: on-demand (the default: the guest runs before"
          + " its memory is read; QEMU maps a memory base privately and saves only the pages that"
          + " differ from it, Cloud Hypervisor pages in via userfaultfd) or copy (all of it is"
          + " read before the guest resumes; QEMU keeps it in the saved state, as before).")
  String restoreMemory;

  @Option(names = "--warm-pool", defaultValue = "0",
      description = "VMs per golden-snapshot shape (without a NIC) kept restored and idle, so that"
          + " a create takes one over instead of restoring (QEMU with on-demand memory); each"
          + " holds its shape's memory until a create needs the room. 0 = none.")
  int warmPool;

  @Option(names = "--cpus", defaultValue = "0", description = "vCPUs offered to VMs; 0 = host CPUs.")
  int cpus;

  @Option(names = "--memory-mib", defaultValue = "0",
      description = "Memory offered to VMs in MiB; 0 = 80%% of host memory.")
  long memoryMib;

  @Option(names = "--boot-timeout-seconds", defaultValue = "120",
      description = "How long a guest may take to signal it is ready.")
  int bootTimeoutSeconds;

  @Option(names = "--network-subnet",
      description = "CIDR for this node's VMs, e.g. 10.88.3.0/24 (first host = bridge); default:"
          + " the subnet the controller assigns at join; none: VMs get no network.")
  String networkSubnet;

  @Option(names = "--network-bridge", defaultValue = NetworkConfig.DEFAULT_BRIDGE,
      description = "Name of this node's VM bridge (one per agent on a host).")
  String networkBridge;

  @Option(names = "--network-nat", defaultValue = "true",
      description = "Masquerade VM traffic to the outside with nftables.")
  boolean networkNat;

  @Option(names = "--golden", defaultValue = "on-demand",
      description = "Golden snapshots to create VMs from: off, on-demand (built on a shape's first"
          + " create) or ahead (also built at start for --golden-keys).")
  String golden;

  @Option(names = "--golden-keys", split = ",", paramLabel = "IMAGE:CPUS:MEM_MIB",
      description = "Shapes whose golden snapshots --golden ahead builds at start.")
  List<String> goldenKeys = new ArrayList<>();

  @Option(names = "--image-cache-mib", defaultValue = "20480",
      description = "Most MiB of fleet images kept on this node; beyond it the least recently"
          + " used ones that no VM or checkpoint here uses are removed after each pull.")
  long imageCacheMib;

  @Option(names = "--checkpoint-archive", paramLabel = "URL",
      description = "The cluster's checkpoint archive (issue 23):"
          + " s3://BUCKET[/PREFIX][?endpoint=URL&region=NAME&path_style=true]. Checkpoints made"
          + " here are uploaded to it, and any checkpoint in it can be restored here. Give every"
          + " node the same one. Default: none (checkpoints stay on their nodes).")
  String checkpointArchive;

  @Option(names = "--checkpoint-archive-credentials", paramLabel = "FILE",
      description = "AWS shared credentials file (profile default) for the archive; default:"
          + " the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).")
  Path checkpointArchiveCredentials;

  @Option(names = "--chunk-cache-mib", defaultValue = "4096",
      description = "Most MiB of archive chunks kept on this node for restores.")
  long chunkCacheMib;

  @Override
  public Integer call() throws Exception {
    AgentConfig cfg = toConfig();
    LogSetup.configure(cfg.serverLog(), cfg.auditLog(), cfg.logToStderr(),
        ConfigChecks.logLevel(logLevel));
    AgentServer server = AgentServer.create(cfg);
    server.start();
    Runtime.getRuntime().addShutdownHook(new Thread(server::stop, "shutdown"));
    server.awaitTermination();
    return 0;
  }

  AgentConfig toConfig() {
    ConfigChecks.port("grpc-port", grpcPort);
    ConfigChecks.port("metrics-port", metricsPort);
    String name = nodeName != null ? nodeName : defaultNodeName();
    String problem = ResourceNames.problem("'node-name'", name);
    if (problem != null) {
      throw new ConfigException(problem);
    }
    for (String key : labels.keySet()) {
      if (key.isEmpty() || key.length() > 63) {
        throw new ConfigException("'label' keys must be 1-63 characters; got '" + key + "'");
      }
    }
    Path state = stateDir.toAbsolutePath();
    String advertise = advertiseAddress != null ? advertiseAddress : "127.0.0.1:" + grpcPort;
    if (imageCacheMib < 1) {
      throw new ConfigException("'image-cache-mib' must be at least 1; got " + imageCacheMib);
    }
    if (!List.of("auto", "kvm", "tcg").contains(accelerator)) {
      throw new ConfigException("'accelerator' must be auto, kvm or tcg; got '" + accelerator + "'");
    }
    if (!HypervisorChoice.CONFIG_VALUES.contains(hypervisor)) {
      throw new ConfigException("'hypervisor' must be auto, qemu or cloud-hypervisor; got '"
          + hypervisor + "'");
    }
    if (!List.of("copy", "on-demand").contains(restoreMemory)) {
      throw new ConfigException("'restore-memory' must be copy or on-demand; got '"
          + restoreMemory + "'");
    }
    if (cpus < 0 || memoryMib < 0 || bootTimeoutSeconds <= 0) {
      throw new ConfigException("'cpus' and 'memory-mib' must be >= 0 and 'boot-timeout-seconds' > 0");
    }
    GoldenMode goldenMode;
    try {
      goldenMode = GoldenMode.parse(golden);
      // Checked here, with any kind, so that a typo fails at start and not at the first build.
      goldenKeys.forEach(k -> GoldenKey.parse(k, HypervisorKind.HYPERVISOR_KIND_QEMU));
    } catch (IllegalArgumentException e) {
      throw new ConfigException(e.getMessage());
    }
    if (!goldenKeys.isEmpty() && goldenMode != GoldenMode.AHEAD) {
      throw new ConfigException("'golden-keys' is only used with 'golden = ahead'; 'golden' is "
          + golden);
    }
    List<Path> images = imageDirs.isEmpty()
        ? List.of(Path.of("/var/lib/noid/images"),
            Path.of(System.getProperty("user.home"), ".cache", "noid", "images"))
        : imageDirs;
    int offeredCpus = cpus > 0 ? cpus : Runtime.getRuntime().availableProcessors();
    long offeredMib = memoryMib > 0 ? memoryMib : HostMemory.totalMib() * 8 / 10;
    return new AgentConfig(name, bindAddress, grpcPort, metricsPort, advertise, state,
        serverLog != null ? serverLog : state.resolve("server.log"),
        auditLog != null ? auditLog : state.resolve("audit.log"),
        logToStderr, controller, joinToken, controllerCa, labels, images, qemuBinary, accelerator,
        hypervisor, cloudHypervisorBinary, restoreMemory, offeredCpus, offeredMib, bootTimeoutSeconds,
        networkConfig(), goldenMode, goldenKeys, imageCacheMib, warmPool, archive(),
        chunkCacheMib);
  }

  private dev.noid.agent.archive.ArchiveSettings archive() {
    if (chunkCacheMib < 1) {
      throw new ConfigException("'chunk-cache-mib' must be at least 1; got " + chunkCacheMib);
    }
    if (checkpointArchive == null || checkpointArchive.isBlank()) {
      if (checkpointArchiveCredentials != null) {
        throw new ConfigException("'checkpoint-archive-credentials' needs 'checkpoint-archive'");
      }
      return null;
    }
    if (checkpointArchiveCredentials != null
        && !java.nio.file.Files.isReadable(checkpointArchiveCredentials)) {
      throw new ConfigException("'checkpoint-archive-credentials': cannot read "
          + checkpointArchiveCredentials);
    }
    try {
      return dev.noid.agent.archive.ArchiveSettings.parse(checkpointArchive,
          checkpointArchiveCredentials);
    } catch (IllegalArgumentException e) {
      throw new ConfigException(e.getMessage());
    }
  }

  private NetworkConfig networkConfig() {
    if (!networkBridge.matches("[A-Za-z0-9][A-Za-z0-9_.-]{0,14}")) {
      throw new ConfigException("'network-bridge' must be 1-15 letters, digits, '_', '.' or '-'"
          + " (a Linux interface name); got '" + networkBridge + "'");
    }
    Subnet subnet = null;
    if (networkSubnet != null && !networkSubnet.isBlank()) {
      try {
        subnet = Subnet.parse(networkSubnet.strip());
      } catch (IllegalArgumentException e) {
        throw new ConfigException("'network-subnet': " + e.getMessage());
      }
    }
    return new NetworkConfig(networkBridge, subnet, networkNat);
  }

  private static String defaultNodeName() {
    try {
      String host = InetAddress.getLocalHost().getHostName().toLowerCase(Locale.ROOT);
      int dot = host.indexOf('.');
      return dot > 0 ? host.substring(0, dot) : host;
    } catch (UnknownHostException e) {
      throw new ConfigException("'node-name' is required: the host name cannot be resolved");
    }
  }

}
