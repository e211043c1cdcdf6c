package dev.noid.agent.transfer;

import dev.noid.agent.api.GrpcPeerService;
import dev.noid.agent.checkpoint.CheckpointTransfer;
import dev.noid.agent.image.NodeImages;
import dev.noid.agent.server.PeerCertificateInterceptor;
import dev.noid.common.tls.RevokedCertificates;
import dev.noid.common.tls.Certificates;
import dev.noid.common.tls.ClusterIdentities;
import dev.noid.common.tls.KeyAndCertificate;
import dev.noid.common.tls.TlsFiles;
import dev.noid.controller.agents.grpc.TransferGrants;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.TlsServerCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;

/**
 * Two nodes of one cluster on loopback, as the controller sets them up: a CA, node-a and
 * node-b with node certificates, a controller that signs grants, and node-a serving the real
 * AgentPeer service over mutual TLS, which node-b reaches with its own certificate.
 */
public final class TestPeers implements AutoCloseable {
  public final KeyAndCertificate ca = Certificates.newCertificateAuthority("test cluster CA");
  public final TransferGrants grants = new TransferGrants(Certificates.newServerCertificate(ca,
      "noid-controller", List.of(), List.of(ClusterIdentities.CONTROLLER)), Clock.systemUTC());
  public final TlsFiles a;
  public final TlsFiles b;
  private Server server;
  /** SendImage calls node-a finished with OK: the bytes came from the peer. */
  public final java.util.concurrent.atomic.AtomicInteger imagesSentByA =
      new java.util.concurrent.atomic.AtomicInteger();
  private PeerChannels channelsOfB;

  public TestPeers(Path dir) throws Exception {
    a = node(ca, "node-a", dir.resolve("a-tls"));
    b = node(ca, "node-b", dir.resolve("b-tls"));
  }

  /** Starts node-a's peer service; returns its address. */
  public String serveNodeA(CheckpointTransfer checkpoints, NodeImages images) throws IOException {
    server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0),
            a.serverCredentials(TlsServerCredentials.ClientAuth.OPTIONAL))
        .addService(ServerInterceptors.intercept(new GrpcPeerService(new GrantVerifier("node-a",
            List.of(ca.certificate()), Clock.systemUTC()), checkpoints, images),
            new PeerCertificateInterceptor(true, RevokedCertificates.NONE), countImagesSent()))
        .build().start();
    return "127.0.0.1:" + server.getPort();
  }

  /** node-b's channels to other nodes, with its own certificate; closed with this. */
  public synchronized PeerChannels channelsOfNodeB() {
    if (channelsOfB == null) {
      channelsOfB = new PeerChannels(b.sharedMutualClientCredentials());
    }
    return channelsOfB;
  }

  /** What node-b gets when it calls node-a's SendImage itself with {@code grant}. */
  public java.util.List<dev.noid.api.agent.v1.ImageChunk> sendImageToNodeB(String address,
      dev.noid.api.agent.v1.TransferGrant grant) {
    java.util.List<dev.noid.api.agent.v1.ImageChunk> got = new java.util.ArrayList<>();
    dev.noid.api.agent.v1.AgentPeerGrpc.newBlockingStub(channelsOfNodeB().to("node-a", address))
        .sendImage(dev.noid.api.agent.v1.SendImageRequest.newBuilder().setGrant(grant).build())
        .forEachRemaining(got::add);
    return got;
  }

  /** Starts node-b's SendImage call to node-a and reads nothing of it; cancel it to end it. */
  public io.grpc.stub.ClientCallStreamObserver<?> stallSendImageToNodeB(String address,
      dev.noid.api.agent.v1.TransferGrant grant) {
    java.util.concurrent.CompletableFuture<io.grpc.stub.ClientCallStreamObserver<?>> call =
        new java.util.concurrent.CompletableFuture<>();
    dev.noid.api.agent.v1.AgentPeerGrpc.newStub(channelsOfNodeB().to("node-a", address))
        .sendImage(dev.noid.api.agent.v1.SendImageRequest.newBuilder().setGrant(grant).build(),
            new io.grpc.stub.ClientResponseObserver<dev.noid.api.agent.v1.SendImageRequest,
                dev.noid.api.agent.v1.ImageChunk>() {
              @Override
              public void beforeStart(io.grpc.stub.ClientCallStreamObserver<
                  dev.noid.api.agent.v1.SendImageRequest> requests) {
                requests.disableAutoRequestWithInitial(0);
                call.complete(requests);
              }

              @Override
              public void onNext(dev.noid.api.agent.v1.ImageChunk value) {}

              @Override
              public void onError(Throwable t) {}

              @Override
              public void onCompleted() {}
            });
    return call.join();
  }

  private io.grpc.ServerInterceptor countImagesSent() {
    return new io.grpc.ServerInterceptor() {
      @Override
      public <Q, R> io.grpc.ServerCall.Listener<Q> interceptCall(io.grpc.ServerCall<Q, R> call,
          io.grpc.Metadata headers, io.grpc.ServerCallHandler<Q, R> next) {
        return next.startCall(new io.grpc.ForwardingServerCall.SimpleForwardingServerCall<>(call) {
          @Override
          public void close(io.grpc.Status status, io.grpc.Metadata trailers) {
            if (status.isOk() && call.getMethodDescriptor().getBareMethodName()
                .equals("SendImage")) {
              imagesSentByA.incrementAndGet();
            }
            super.close(status, trailers);
          }
        }, headers);
      }
    };
  }

  /** A node certificate as the controller issues it: its DNS name, its address, its URI. */
  public static TlsFiles node(KeyAndCertificate ca, String name, Path dir) throws Exception {
    Files.createDirectories(dir);
    var pair = Certificates.newKeyPair();
    KeyAndCertificate cert = new KeyAndCertificate(pair.getPrivate(), List.of(Certificates.issue(
        ca, name, pair.getPublic(), List.of(ClusterIdentities.nodeDnsName(name), "127.0.0.1"),
        List.of(ClusterIdentities.nodeUri(name)), Duration.ofDays(1))));
    cert.write(dir.resolve("node.pem"), dir.resolve("node-key.pem"));
    Files.writeString(dir.resolve("ca.pem"), ca.certificatePem());
    return new TlsFiles(dir.resolve("node.pem"), dir.resolve("node-key.pem"),
        dir.resolve("ca.pem"));
  }

  @Override
  public synchronized void close() {
    if (channelsOfB != null) {
      channelsOfB.close();
    }
    if (server != null) {
      server.shutdownNow();
    }
  }
}
