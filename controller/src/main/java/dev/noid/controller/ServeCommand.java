package dev.noid.controller;

import dev.noid.common.config.ConfigChecks;
import dev.noid.common.config.ConfigException;
import dev.noid.common.logging.LogSetup;
import dev.noid.common.network.Subnet;
import dev.noid.controller.config.ControllerConfig;
import dev.noid.controller.ha.HaConfig;
import dev.noid.controller.ha.HaController;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code noid-controller serve}: the long-running controller. Every option is also a config key. */
@Command(name = "serve", mixinStandardHelpOptions = true,
    description = "Run the controller (gRPC API, HTTPS health and metrics).")
public final class ServeCommand implements Callable<Integer> {
  @Option(names = "--config", paramLabel = "FILE",
      description = "Config file of 'key = value' lines; keys are these options' long names"
          + " (default: $NOID_CONTROLLER_CONFIG, else /etc/noid/controller.conf when it exists).")
  Path config;

  @Option(names = "--bind-address", defaultValue = "0.0.0.0", description = "Address to listen on.")
  String bindAddress;

  @Option(names = "--grpc-port", defaultValue = "7655", description = "gRPC API port (TLS).")
  int grpcPort;

  @Option(names = "--https-port", defaultValue = "7654",
      description = "HTTPS port for /health, /healthz, /metrics, /version.")
  int httpsPort;

  @Option(names = "--data-dir", defaultValue = "/var/lib/noid/controller",
      description = "Store, TLS material and state.")
  Path dataDir;

  @Option(names = "--log-file", description = "JSON-lines server log (default: DATA_DIR/server.log).")
  Path serverLog;

  @Option(names = "--audit-log", description = "JSON-lines audit log (default: DATA_DIR/audit.log).")
  Path auditLog;

  @Option(names = "--log-stderr", defaultValue = "false", description = "Also log to stderr.")
  boolean logToStderr;

  @Option(names = "--log-level", defaultValue = "INFO", description = "TRACE, DEBUG, INFO, WARN or ERROR.")
  String logLevel;

  @Option(names = "--tls-cert", description = "Server certificate chain (PEM); default: issued by the cluster CA.")
  Path tlsCert;

  @Option(names = "--tls-key", description = "Private key of --tls-cert (PEM, PKCS#8).")
  Path tlsKey;

  @Option(names = "--tls-ca", description = "CA that clients use to verify --tls-cert.")
  Path tlsCa;

  @Option(names = "--tls-name", split = ",",
      description = "Extra DNS names or IPs for the generated server certificate.")
  List<String> tlsNames = new ArrayList<>();

  @Option(names = "--node-dns-name", split = ",", defaultValue = "localhost",
      description = "DNS names nodes may advertise (and get in their certificate): exact names,"
          + " or suffixes with a leading dot (.nodes.example.com). IP literals are always allowed."
          + " Default: localhost (for loopback agents).")
  List<String> nodeDnsNames = new ArrayList<>();

  @Option(names = "--store-url", defaultValue = "",
      description = "jdbc:postgresql://... for a shared PostgreSQL store; default: SQLite in DATA_DIR/noid.db.")
  String storeUrl;

  @Option(names = "--scheduler", defaultValue = "spread", description = "spread or binpack.")
  String scheduler;

  @Option(names = "--heartbeat-interval-ms", defaultValue = "2000",
      description = "How often agents heartbeat.")
  int heartbeatIntervalMs;

  @Option(names = "--lease-seconds", defaultValue = "10",
      description = "A node with no heartbeat for this long is NOT_READY.")
  int leaseSeconds;

  @Option(names = "--max-heartbeats-per-second", defaultValue = "200",
      description = "Beyond this many heartbeats a second, agents are told to beat less often"
          + " (and the lease grows alike); 0: no limit.")
  int maxHeartbeatsPerSecond;

  @Option(names = "--cluster-cidr",
      description = "CIDR cut into one VM subnet per node (e.g. 10.88.0.0/16), sent at join;"
          + " default: none (nodes use their own 'network-subnet', if any).")
  String clusterCidr;

  @Option(names = "--node-subnet-prefix", defaultValue = "24",
      description = "Prefix length of each node's subnet inside the cluster CIDR.")
  int nodeSubnetPrefix;

  @Option(names = "--boot-timeout-seconds", defaultValue = "120",
      description = "How long a VM may take to boot before its create fails.")
  int bootTimeoutSeconds;

  @Option(names = "--advertise-address", paramLabel = "HOST:PORT",
      description = "Where clients and agents reach this controller's gRPC port: named as the"
          + " leader in /health and, with a PostgreSQL store, told to the others through it"
          + " (default: this host's name and --grpc-port).")
  String advertiseAddress;

  @Option(names = "--images-dir", paramLabel = "DIR",
      description = "Fleet images' files (default: DATA_DIR/images). Controllers sharing a"
          + " PostgreSQL store must share this directory (NFS, CephFS): any of them may lead and"
          + " serve pulls.")
  Path imagesDir;

  @Option(names = "--leader-lease-ms", defaultValue = "3000",
      description = "With a PostgreSQL store: how long the leader's lease lasts without renewal;"
          + " a killed leader is replaced after about this long.")
  int leaderLeaseMs;

  @Override
  public Integer call() throws Exception {
    ControllerConfig cfg = toConfig();
    LogSetup.configure(cfg.serverLog(), cfg.auditLog(), cfg.logToStderr(),
        ConfigChecks.logLevel(logLevel));
    if (cfg.effectiveStoreUrl().startsWith("jdbc:postgresql:")) {
      return serveAmongOthers(cfg);
    }
    ControllerServer server = ControllerServer.create(new ControllerModule(cfg, null,
        dev.noid.controller.ha.Leadership.alone(ownAddress()), imagesDir()));
    server.start();
    Runtime.getRuntime().addShutdownHook(new Thread(server::stop, "shutdown"));
    server.awaitTermination();
    return 0;
  }

  // Several controllers may share a PostgreSQL store: one leads, the others follow (issue 22).
  private int serveAmongOthers(ControllerConfig cfg) throws Exception {
    HaController ha = new HaController(cfg, haConfig(), (config, store, leadership) -> {
      ControllerServer server = ControllerServer.create(
          new ControllerModule(config, store, leadership, imagesDir()));
      server.start();
      return server::stopServing;
    });
    ha.start();
    Runtime.getRuntime().addShutdownHook(new Thread(ha::stop, "shutdown"));
    return ha.awaitTermination();
  }

  private java.nio.file.Path imagesDir() {
    return imagesDir == null ? null : imagesDir.toAbsolutePath();
  }

  HaConfig haConfig() {
    if (leaderLeaseMs < 600) {
      throw new ConfigException("'leader-lease-ms' must be at least 600; got " + leaderLeaseMs);
    }
    return new HaConfig(advertise(), java.time.Duration.ofMillis(leaderLeaseMs));
  }

  // On its own, a controller whose host has no name still starts: /health then names the bind
  // address, as it did before it named hosts.
  String ownAddress() {
    try {
      return advertise();
    } catch (ConfigException e) {
      if (advertiseAddress != null && !advertiseAddress.isBlank()) {
        throw e;
      }
      return bindAddress + ":" + grpcPort;
    }
  }

  /**
   * Where clients reach this controller: what {@code /health} names as the leader, and with
   * PostgreSQL what the others are told. A wildcard bind address names no reachable host.
   */
  String advertise() {
    String advertise = advertiseAddress;
    if (advertise == null || advertise.isBlank()) {
      String host = bindAddress;
      if (host.equals("0.0.0.0") || host.equals("::")) {
        try {
          host = java.net.InetAddress.getLocalHost().getCanonicalHostName();
        } catch (java.net.UnknownHostException e) {
          throw new ConfigException("'advertise-address' is needed: this host has no name ("
              + e.getMessage() + ")");
        }
      }
      advertise = host + ":" + grpcPort;
    }
    if (!advertise.matches("[^\\s:,]+:[0-9]{1,5}") && !advertise.matches("\\[[0-9a-fA-F:]+\\]:[0-9]{1,5}")) {
      throw new ConfigException("'advertise-address' must be HOST:PORT; got '" + advertise + "'");
    }
    return advertise;
  }

  ControllerConfig toConfig() {
    ConfigChecks.port("grpc-port", grpcPort);
    ConfigChecks.port("https-port", httpsPort);
    if ((tlsCert == null) != (tlsKey == null)) {
      throw new ConfigException("'tls-cert' and 'tls-key' must be given together");
    }
    if (!scheduler.equals("spread") && !scheduler.equals("binpack")) {
      throw new ConfigException("'scheduler' must be spread or binpack; got '" + scheduler + "'");
    }
    if (!storeUrl.isEmpty() && !storeUrl.startsWith("jdbc:postgresql:")
        && !storeUrl.startsWith("jdbc:sqlite:")) {
      throw new ConfigException("'store-url' must start with jdbc:postgresql: or jdbc:sqlite:");
    }
    if (heartbeatIntervalMs < 100 || leaseSeconds < 1 || leaseSeconds * 1000L < 2L * heartbeatIntervalMs) {
      throw new ConfigException("'lease-seconds' must cover at least two 'heartbeat-interval-ms'");
    }
    if (maxHeartbeatsPerSecond < 0) {
      throw new ConfigException("'max-heartbeats-per-second' must be 0 (no limit) or more; got "
          + maxHeartbeatsPerSecond);
    }
    if (bootTimeoutSeconds < 1) {
      throw new ConfigException("'boot-timeout-seconds' must be at least 1");
    }
    Path data = dataDir.toAbsolutePath();
    return new ControllerConfig(bindAddress, grpcPort, httpsPort, data,
        serverLog != null ? serverLog : data.resolve("server.log"),
        auditLog != null ? auditLog : data.resolve("audit.log"),
        logToStderr, tlsCert, tlsKey, tlsCa, tlsNames, storeUrl, scheduler, heartbeatIntervalMs,
        leaseSeconds, maxHeartbeatsPerSecond, bootTimeoutSeconds, clusterCidr(), nodeSubnetPrefix,
        nodeDnsNames);
  }

  private Subnet clusterCidr() {
    if (clusterCidr == null || clusterCidr.isBlank()) {
      return null;
    }
    Subnet cidr;
    try {
      cidr = Subnet.parse(clusterCidr.strip());
    } catch (IllegalArgumentException e) {
      throw new ConfigException("'cluster-cidr': " + e.getMessage());
    }
    if (nodeSubnetPrefix < cidr.prefixLength() || nodeSubnetPrefix > 29) {
      throw new ConfigException("'node-subnet-prefix' must be between the cluster CIDR's /"
          + cidr.prefixLength() + " and /29; got " + nodeSubnetPrefix);
    }
    return cidr;
  }
}
