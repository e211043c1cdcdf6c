package dev.noid.agent.config;

import static java.util.Objects.requireNonNull;

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
    int bootTimeoutSeconds) {

  public AgentConfig {
    requireNonNull(nodeName, "nodeName is null");
    requireNonNull(stateDir, "stateDir is null");
    labels = Map.copyOf(labels);
    imageDirs = List.copyOf(imageDirs);
  }

  public Path vmsDir() {
    return stateDir.resolve("vms");
  }

  public Path checkpointsDir() {
    return stateDir.resolve("checkpoints");
  }

  public Path tlsDir() {
    return stateDir.resolve("tls");
  }
}
