package dev.noid.agent.bench;

import dev.noid.api.agent.v1.AgentGrpc;
import dev.noid.api.agent.v1.ExecExit;
import dev.noid.api.agent.v1.ExecRequest;
import dev.noid.api.agent.v1.ExecResponse;
import dev.noid.api.agent.v1.ExecStart;
import dev.noid.api.agent.v1.GetNodeReportRequest;
import dev.noid.api.agent.v1.NodeReport;
import dev.noid.common.tls.Certificates;
import dev.noid.common.tls.KeyAndCertificate;
import dev.noid.common.tls.Pem;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.stub.StreamObserver;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * A client of one standalone agent, as the controller is: mutual TLS with a certificate
 * issued from the agent's own CA (read from its state directory).
 */
final class BenchClient implements AutoCloseable {
  private final ManagedChannel channel;

  private BenchClient(ManagedChannel channel) {
    this.channel = channel;
  }

  static BenchClient connect(String address, Path stateDir, Path workDir) throws Exception {
    Path tls = stateDir.resolve("tls");
    X509Certificate caCert = Pem.certificate(Pem.read(tls.resolve("ca.pem")));
    KeyAndCertificate ca = new KeyAndCertificate(
        Pem.privateKey(Pem.read(tls.resolve("standalone-ca-key.pem"))), List.of(caCert));
    KeyPair pair = Certificates.newKeyPair();
    X509Certificate cert = Certificates.issue(ca, "bench", pair.getPublic(), List.of(),
        Duration.ofDays(1));
    Path dir = Files.createDirectories(workDir.resolve("client"));
    new KeyAndCertificate(pair.getPrivate(), List.of(cert)).write(dir.resolve("c.pem"),
        dir.resolve("k.pem"));
    return new BenchClient(Grpc.newChannelBuilder(address, TlsChannelCredentials.newBuilder()
        .keyManager(dir.resolve("c.pem").toFile(), dir.resolve("k.pem").toFile())
        .trustManager(tls.resolve("ca.pem").toFile()).build()).build());
  }

  AgentGrpc.AgentBlockingStub stub() {
    return AgentGrpc.newBlockingStub(channel).withDeadlineAfter(300, TimeUnit.SECONDS);
  }

  /** The node's report; waits (up to 90 s) for an agent that is still starting to listen. */
  NodeReport node() {
    return AgentGrpc.newBlockingStub(channel).withWaitForReady()
        .withDeadlineAfter(90, TimeUnit.SECONDS)
        .getNodeReport(GetNodeReportRequest.getDefaultInstance()).getNode();
  }

  /** Runs a command to completion; fails unless it exits 0. */
  ExecExit exec(String vm, String... command) throws Exception {
    CompletableFuture<ExecExit> done = new CompletableFuture<>();
    StreamObserver<ExecRequest> requests = AgentGrpc.newStub(channel)
        .withDeadlineAfter(120, TimeUnit.SECONDS).exec(new StreamObserver<>() {
          @Override
          public void onNext(ExecResponse r) {
            if (r.hasExit()) {
              done.complete(r.getExit());
            }
          }

          @Override
          public void onError(Throwable t) {
            done.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {
            done.completeExceptionally(new IllegalStateException("exec ended without an exit"));
          }
        });
    requests.onNext(ExecRequest.newBuilder().setStart(ExecStart.newBuilder().setVmId(vm)
        .addAllCommand(List.of(command)).setTimeoutSeconds(60)).build());
    requests.onCompleted();
    ExecExit exit;
    try {
      exit = done.get(120, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof StatusRuntimeException sre) {
        throw sre;
      }
      throw e;
    }
    if (exit.getExitCode() != 0) {
      throw new IllegalStateException(String.join(" ", command) + " exited with "
          + exit.getExitCode() + " in " + vm);
    }
    return exit;
  }

  @Override
  public void close() {
    channel.shutdownNow();
  }
}
