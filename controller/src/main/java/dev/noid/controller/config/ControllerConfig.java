package dev.noid.controller.config;

import static java.util.Objects.requireNonNull;

import dev.noid.common.network.Subnet;
import java.nio.file.Path;
import java.util.List;

/**
 * Everything the controller is configured with. Built from the config file and flags by
 * {@link dev.noid.controller.ServeCommand}; defaults live there, once, as option defaults.
 */
public record ControllerConfig(
    String bindAddress,
    int grpcPort,
    int httpsPort,
    Path dataDir,
    Path serverLog,
    Path auditLog,
    boolean logToStderr,
    Path tlsCert,
    Path tlsKey,
    Path tlsCa,
    List<String> tlsNames,
    String storeUrl,
    String scheduler,
    int heartbeatIntervalMs,
    int leaseSeconds,
    int maxHeartbeatsPerSecond,
    int bootTimeoutSeconds,
    Subnet clusterCidr,
    int nodeSubnetPrefix,
    List<String> nodeDnsNames) {

  public ControllerConfig {
    requireNonNull(bindAddress, "bindAddress is null");
    requireNonNull(dataDir, "dataDir is null");
    tlsNames = List.copyOf(tlsNames);
    nodeDnsNames = List.copyOf(nodeDnsNames);
  }

  /** The store: a JDBC URL for PostgreSQL, else the embedded SQLite file in the data dir. */
  public String effectiveStoreUrl() {
    return storeUrl == null || storeUrl.isEmpty()
        ? "jdbc:sqlite:" + dataDir.resolve("noid.db") : storeUrl;
  }

  public Path tlsDir() {
    return dataDir.resolve("tls");
  }
}
