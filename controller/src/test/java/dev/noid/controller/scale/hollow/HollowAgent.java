package dev.noid.controller.scale.hollow;

import com.google.protobuf.Timestamp;
import dev.noid.api.agent.v1.HeartbeatRequest;
import dev.noid.api.agent.v1.HeartbeatResponse;
import dev.noid.api.agent.v1.JoinRequest;
import dev.noid.api.agent.v1.JoinResponse;
import dev.noid.api.agent.v1.NodeRegistrationGrpc;
import dev.noid.common.tls.Certificates;
import dev.noid.common.tls.Pem;
import dev.noid.common.tls.TlsFiles;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.TlsServerCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioServerSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioSocketChannel;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Instant;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * One hollow node agent: it joins with a one-time token and a CSR like the real agent (its key
 * never leaves it), serves noid.agent.v1.Agent on its own port over mutual TLS with the
 * certificate it was given, and heartbeats its node report and VM reports on the interval the
 * controller asks for. Threads, event loops and timers are the fleet's, shared.
 */
final class HollowAgent implements AutoCloseable {
  private final HollowNode node;
  private final Path tlsDir;
  private final HollowFleet.Shared shared;
  private final String instanceId = UUID.randomUUID().toString();
  private TlsFiles tls;
  private String address;
  private Server server;
  private ManagedChannel controller;
  private volatile long intervalMs = 2000;
  private long sequence;
  private volatile boolean closed;
  private final FakeAgent agent;

  HollowAgent(HollowNode node, Path tlsDir, HollowFleet.Shared shared) {
    this.node = node;
    this.tlsDir = tlsDir;
    this.shared = shared;
    this.agent = new FakeAgent(node, shared.hypervisor(), shared.creates());
  }

  Faults faults() {
    return agent.faults();
  }

  HollowNode node() {
    return node;
  }

  /** Joins through {@code joins} (TLS trusting the cluster CA, no client certificate). */
  void join(ManagedChannel joins, String joinToken) {
    int port = freePort();
    address = "127.0.0.1:" + port;
    KeyPair pair = Certificates.newKeyPair();
    JoinResponse r = NodeRegistrationGrpc.newBlockingStub(joins).withDeadlineAfter(60, TimeUnit.SECONDS)
        .join(JoinRequest.newBuilder().setJoinToken(joinToken).setNodeName(node.name())
            .setCsrPem(Certificates.newCsrPem(pair, node.name())).setAgentAddress(address)
            .putLabels("hollow", "true").build());
    try {
      Files.createDirectories(tlsDir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    tls = new TlsFiles(tlsDir.resolve("node.pem"), tlsDir.resolve("node-key.pem"), tlsDir.resolve("ca.pem"));
    Pem.write(tls.key(), Pem.encode(pair.getPrivate()), true);
    Pem.write(tls.certificate(), r.getCertificatePem(), false);
    Pem.write(tls.trustedCa(), r.getCaCertificatePem(), false);
    if (r.getHeartbeatIntervalMs() > 0) {
      intervalMs = r.getHeartbeatIntervalMs();
    }
    // A port probed free can be taken by someone's outgoing connection before we bind it: then
    // take another. The first heartbeat advertises the address really bound, as the agent's does.
    for (int attempt = 1; ; attempt++) {
      try {
        server = serverOn(port).start();
        break;
      } catch (IOException e) {
        if (attempt == 20) {
          throw new UncheckedIOException("hollow agent " + node.name() + " cannot listen on 127.0.0.1", e);
        }
        port = freePort();
        address = "127.0.0.1:" + port;
      }
    }
  }

  private Server serverOn(int port) {
    return NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", port),
            tls.serverCredentials(TlsServerCredentials.ClientAuth.REQUIRE))
        .bossEventLoopGroup(shared.boss()).workerEventLoopGroup(shared.workers())
        .channelType(NioServerSocketChannel.class).executor(shared.executor())
        .addService(agent)
        .build();
  }

  /** The heartbeat interval the controller last gave this node. */
  long intervalMs() {
    return intervalMs;
  }

  /** Heartbeats to {@code target} from now on, the first after {@code firstDelayMs}. */
  void startHeartbeats(String target, long firstDelayMs) {
    controller = target.contains(",")
        ? HollowFleet.leaderFollowing(target, tls.mutualClientCredentials())
        : NettyChannelBuilder.forTarget(target, tls.mutualClientCredentials())
            .eventLoopGroup(shared.workers()).channelType(NioSocketChannel.class)
            .executor(shared.executor()).build();
    shared.timer().schedule(this::beat, firstDelayMs, TimeUnit.MILLISECONDS);
  }

  private void beat() {
    if (closed) {
      return;
    }
    Instant now = Instant.now();
    HeartbeatRequest request = HeartbeatRequest.newBuilder().setNodeName(node.name())
        .setAgentAddress(address).setNode(node.report())
        // As the real agent's heartbeat (VmReports.forHeartbeat): no labels.
        .addAllVms(node.vms().stream().map(v -> v.toBuilder().setSpec(v.getSpec().toBuilder().clearLabels()).build()).toList())
        .setSequence(++sequence).setAgentInstanceId(instanceId)
        .setSentTime(Timestamp.newBuilder().setSeconds(now.getEpochSecond()).setNanos(now.getNano()))
        .build();
    long sent = System.nanoTime();
    NodeRegistrationGrpc.newStub(controller).withDeadlineAfter(Math.max(2000, intervalMs), TimeUnit.MILLISECONDS)
        .heartbeat(request, new StreamObserver<>() {
          @Override
          public void onNext(HeartbeatResponse r) {
            if (r.getHeartbeatIntervalMs() > 0) {
              intervalMs = r.getHeartbeatIntervalMs();
            }
          }

          @Override
          public void onError(Throwable t) {
            shared.stats().fail();
            next();
          }

          @Override
          public void onCompleted() {
            shared.stats().ok(System.nanoTime() - sent);
            next();
          }
        });
  }

  private void next() {
    if (!closed) {
      shared.timer().schedule(this::beat, intervalMs, TimeUnit.MILLISECONDS);
    }
  }

  private static int freePort() {
    return dev.noid.controller.testing.FreePorts.next();
  }

  @Override
  public void close() {
    closed = true;
    if (controller != null) {
      controller.shutdownNow();
    }
    if (server != null) {
      server.shutdownNow();
    }
  }

  /** After {@link #close}: waits until the server has let go of every call it was serving. */
  void awaitClosed() throws InterruptedException {
    if (server != null) {
      server.awaitTermination(5, TimeUnit.SECONDS);
    }
  }
}
