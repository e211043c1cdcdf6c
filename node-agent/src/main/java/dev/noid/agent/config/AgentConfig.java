package dev.noid.agent.config;

import static java.util.Objects.requireNonNull;

import dev.noid.agent.golden.GoldenMode;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** Everything the agent is configured with; defaults live in {@link dev.noid.agent.ServeCommand}. */
public record AgentConfig(
    String nodeName,
    String bindAddress,
    int grpcPort,
    int metricsPort,
    String advertiseAddress,
    Path stateDir,
    Path serverLog,
    Path auditLog,
    boolean logToStderr,
    String controller,
    String joinToken,
    Path controllerCa,
    Map<String, String> labels,
    List<Path> imageDirs,
    String qemuBinary,
    String accelerator,
    String hypervisor,
    String cloudHypervisorBinary,
    String restoreMemory,
    int cpus,
    long memoryMib,
    int bootTimeoutSeconds,
    NetworkConfig network,
    GoldenMode golden,
    List<String> goldenKeys,
    long imageCacheMib,
    int warmPool,
    dev.noid.agent.archive.ArchiveSettings checkpointArchive,
    long chunkCacheMib) {

  /** The fleet image cache's budget when none is configured. */
  public static final long DEFAULT_IMAGE_CACHE_MIB = 20 * 1024;
  /** The archive chunk cache's budget when none is configured. */
  public static final long DEFAULT_CHUNK_CACHE_MIB = 4 * 1024;

  /** A config with the default image cache budget. */
  public AgentConfig(String nodeName, String bindAddress, int grpcPort, int metricsPort,
      String advertiseAddress, Path stateDir, Path serverLog, Path auditLog, boolean logToStderr,
      String controller, String joinToken, Path controllerCa, Map<String, String> labels,
      List<Path> imageDirs, String qemuBinary, String accelerator, String hypervisor,
      String cloudHypervisorBinary, String restoreMemory, int cpus, long memoryMib,
      int bootTimeoutSeconds, NetworkConfig network, GoldenMode golden, List<String> goldenKeys) {
    this(nodeName, bindAddress, grpcPort, metricsPort, advertiseAddress, stateDir, serverLog,
        auditLog, logToStderr, controller, joinToken, controllerCa, labels, imageDirs, qemuBinary,
        accelerator, hypervisor, cloudHypervisorBinary, restoreMemory, cpus, memoryMib,
        bootTimeoutSeconds, network, golden, goldenKeys, DEFAULT_IMAGE_CACHE_MIB, 0, null,
        DEFAULT_CHUNK_CACHE_MIB);
  }

  public AgentConfig {
    requireNonNull(nodeName, "nodeName is null");
    requireNonNull(stateDir, "stateDir is null");
    requireNonNull(network, "network is null");
    labels = Map.copyOf(labels);
    imageDirs = List.copyOf(imageDirs);
    requireNonNull(golden, "golden is null");
    goldenKeys = List.copyOf(goldenKeys);
  }

  public Path vmsDir() {
    return stateDir.resolve("vms");
  }

  public Path checkpointsDir() {
    return stateDir.resolve("checkpoints");
  }

  public Path networkDir() {
    return stateDir.resolve("network");
  }

  public Path goldenDir() {
    return stateDir.resolve("golden");
  }

  public Path tlsDir() {
    return stateDir.resolve("tls");
  }
}
