package dev.noid.controller.config;

import static java.util.Objects.requireNonNull;

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
    List<String> tlsNames) {

  public ControllerConfig {
    requireNonNull(bindAddress, "bindAddress is null");
    requireNonNull(dataDir, "dataDir is null");
    tlsNames = List.copyOf(tlsNames);
  }

  public Path tlsDir() {
    return dataDir.resolve("tls");
  }
}
