package dev.noid.cli;

import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import java.io.File;
import java.io.IOException;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code noid health-probe}: asks a gRPC server's grpc.health.v1 service for a status, like
 * grpc_health_probe, with the same exit codes (0 SERVING, 1 bad arguments, 2 connection
 * failure, 3 RPC failure, 4 not serving), so scripts and probes can use either.
 */
@Command(name = "health-probe", mixinStandardHelpOptions = true,
    description = "Check grpc.health.v1 of a Noid controller or agent.")
public final class HealthProbeCommand implements Callable<Integer> {
  @Option(names = "--addr", required = true, description = "host:port")
  String address;

  @Option(names = "--service", defaultValue = "", description = "Service name; empty = whole server.")
  String service;

  @Option(names = "--ca", description = "CA file to verify the server; without it, plaintext.")
  File ca;

  @Option(names = "--timeout-seconds", defaultValue = "5")
  long timeoutSeconds;

  @Override
  public Integer call() throws IOException {
    ChannelCredentials credentials = ca != null
        ? TlsChannelCredentials.newBuilder().trustManager(ca).build()
        : InsecureChannelCredentials.create();
    ManagedChannel channel = Grpc.newChannelBuilder(address, credentials).build();
    try {
      HealthCheckResponse response = HealthGrpc.newBlockingStub(channel)
          .withDeadlineAfter(timeoutSeconds, TimeUnit.SECONDS)
          .check(HealthCheckRequest.newBuilder().setService(service).build());
      System.out.println("status: " + response.getStatus());
      return response.getStatus() == HealthCheckResponse.ServingStatus.SERVING ? 0 : 4;
    } catch (StatusRuntimeException e) {
      System.err.println("health check of " + address + " failed: " + e.getStatus().getCode()
          + (e.getStatus().getDescription() != null ? ": " + e.getStatus().getDescription() : ""));
      return switch (e.getStatus().getCode()) {
        case UNAVAILABLE, DEADLINE_EXCEEDED -> 2;
        default -> 3;
      };
    } finally {
      channel.shutdownNow();
    }
  }
}
