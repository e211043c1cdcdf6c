package dev.noid.client;

import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.CreateVmResponse;
import dev.noid.api.v1.GetVmRequest;
import dev.noid.api.v1.GetVmResponse;
import dev.noid.api.v1.Vm;
import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.common.tls.KeyAndCertificate;
import dev.noid.common.tls.Pem;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.TlsServerCredentials;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A TLS gRPC server on a loopback port standing in for one controller: its health service
 * says whether it leads, and its VmService answers with its own id so tests see who served.
 */
final class FakeController implements AutoCloseable {
  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  final String id;
  /** The authorization headers of the calls it received: what a stand-in would steal. */
  final List<String> authorizations = new CopyOnWriteArrayList<>();
  /** DestroyVm calls received; each is answered as a leader that died before answering. */
  final java.util.concurrent.atomic.AtomicInteger destroys =
      new java.util.concurrent.atomic.AtomicInteger();
  /** Checkpoint ids it holds; DeleteCheckpoint removes one and answers as a dying leader. */
  final java.util.Set<String> checkpoints = java.util.concurrent.ConcurrentHashMap.newKeySet();
  private final java.util.Set<String> refusedOnce =
      java.util.concurrent.ConcurrentHashMap.newKeySet();
  /** VM watches the client cancelled. */
  final java.util.concurrent.atomic.AtomicInteger watchesCancelled =
      new java.util.concurrent.atomic.AtomicInteger();
  private final HealthStatusManager health = new HealthStatusManager();
  private final Server server;

  FakeController(String id, KeyAndCertificate cert) throws IOException {
    this.id = id;
    TlsServerCredentials.Builder tls = TlsServerCredentials.newBuilder().keyManager(
        new ByteArrayInputStream(cert.certificatePem().getBytes(StandardCharsets.US_ASCII)),
        new ByteArrayInputStream(Pem.encode(cert.key()).getBytes(StandardCharsets.US_ASCII)));
    server = Grpc.newServerBuilderForPort(0, tls.build())
        .addService(health.getHealthService())
        .addService(ServerInterceptors.intercept(new Vms(), recordAuthorization()))
        .build().start();
    follow();
  }

  private ServerInterceptor recordAuthorization() {
    return new ServerInterceptor() {
      @Override
      public <Q, R> io.grpc.ServerCall.Listener<Q> interceptCall(io.grpc.ServerCall<Q, R> call,
          Metadata headers, io.grpc.ServerCallHandler<Q, R> next) {
        String authorization = headers.get(AUTHORIZATION);
        if (authorization != null) {
          authorizations.add(authorization);
        }
        return next.startCall(call, headers);
      }
    };
  }

  int port() {
    return server.getPort();
  }

  void lead() {
    health.setStatus(ControllerAddresses.LEADER_SERVICE, ServingStatus.SERVING);
  }

  void follow() {
    health.setStatus(ControllerAddresses.LEADER_SERVICE, ServingStatus.NOT_SERVING);
  }

  @Override
  public void close() {
    server.shutdownNow();
  }

  private final class Vms extends VmServiceGrpc.VmServiceImplBase {
    @Override
    public void getVm(GetVmRequest request, StreamObserver<GetVmResponse> out) {
      out.onNext(GetVmResponse.newBuilder().setVm(Vm.newBuilder().setName(id)).build());
      out.onCompleted();
    }

    @Override
    public void destroyVm(dev.noid.api.v1.DestroyVmRequest request,
        StreamObserver<dev.noid.api.v1.DestroyVmResponse> out) {
      destroys.incrementAndGet();
      out.onError(io.grpc.Status.UNAVAILABLE.withDescription("the leader stepped down as it"
          + " committed: it may or may not have been applied").asRuntimeException());
    }

    /**
     * Prints the controller's id and exits 0, so a test sees which controller ran it. The
     * command {@code slow MS} instead reads nothing after its start (the caller's input queues
     * up, as before a command that does not read it) and exits 0 after MS milliseconds;
     * {@code await-signal} exits with the number of the first signal it is sent.
     */
    @Override
    public StreamObserver<dev.noid.api.v1.ExecCommandRequest> execCommand(
        StreamObserver<dev.noid.api.v1.ExecCommandResponse> out) {
      io.grpc.stub.ServerCallStreamObserver<dev.noid.api.v1.ExecCommandResponse> call =
          (io.grpc.stub.ServerCallStreamObserver<dev.noid.api.v1.ExecCommandResponse>) out;
      call.disableAutoRequest();
      call.request(1);
      return new StreamObserver<>() {
        @Override
        public void onNext(dev.noid.api.v1.ExecCommandRequest r) {
          if (r.hasSignal()) {
            exit(out, r.getSignal());
            return;
          }
          if (!r.hasStart()) {
            return;
          }
          List<String> command = r.getStart().getCommandList();
          if (command.size() == 1 && command.get(0).equals("await-signal")) {
            call.request(1);
            return;
          }
          if (command.size() == 2 && command.get(0).equals("slow")) {
            java.util.concurrent.CompletableFuture.delayedExecutor(
                Long.parseLong(command.get(1)), java.util.concurrent.TimeUnit.MILLISECONDS)
                .execute(() -> exit(out));
            return;
          }
          out.onNext(dev.noid.api.v1.ExecCommandResponse.newBuilder()
              .setStdout(com.google.protobuf.ByteString.copyFromUtf8(id)).build());
          exit(out);
        }

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {}
      };
    }

    private static void exit(StreamObserver<dev.noid.api.v1.ExecCommandResponse> out) {
      exit(out, 0);
    }

    private static void exit(StreamObserver<dev.noid.api.v1.ExecCommandResponse> out, int code) {
      out.onNext(dev.noid.api.v1.ExecCommandResponse.newBuilder()
          .setExit(dev.noid.api.v1.ExecExit.newBuilder().setExitCode(code)).build());
      out.onCompleted();
    }

    /** An empty fleet: SYNCED at revision 1, then nothing until the client goes. */
    @Override
    public void watchVms(dev.noid.api.v1.WatchVmsRequest request,
        StreamObserver<dev.noid.api.v1.WatchVmsResponse> out) {
      ((io.grpc.stub.ServerCallStreamObserver<dev.noid.api.v1.WatchVmsResponse>) out)
          .setOnCancelHandler(watchesCancelled::incrementAndGet);
      out.onNext(dev.noid.api.v1.WatchVmsResponse.newBuilder()
          .setType(dev.noid.api.v1.WatchVmsResponse.EventType.EVENT_TYPE_SYNCED).setRevision(1)
          .build());
    }

    /**
     * Deletes what it holds, then answers as a leader that died before answering. The first
     * delete of a {@code refused-} id is refused as a controller without a leader refuses it.
     */
    @Override
    public void deleteCheckpoint(dev.noid.api.v1.DeleteCheckpointRequest request,
        StreamObserver<dev.noid.api.v1.DeleteCheckpointResponse> out) {
      if (request.getId().startsWith("refused-") && refusedOnce.add(request.getId())) {
        Metadata trailers = new Metadata();
        trailers.put(Metadata.Key.of("noid-not-applied", Metadata.ASCII_STRING_MARSHALLER),
            "follower");
        out.onError(io.grpc.Status.UNAVAILABLE.withDescription("no controller leads right now;"
            + " retry shortly").asRuntimeException(trailers));
        return;
      }
      if (!checkpoints.remove(request.getId())) {
        out.onError(io.grpc.Status.NOT_FOUND.withDescription("checkpoint '" + request.getId()
            + "' not found").asRuntimeException());
        return;
      }
      out.onError(io.grpc.Status.UNAVAILABLE.withDescription("the leader stepped down as it"
          + " committed: it may or may not have been applied").asRuntimeException());
    }

    @Override
    public void createVm(CreateVmRequest request, StreamObserver<CreateVmResponse> out) {
      // The request id comes back as the image so the test can see what was sent.
      out.onNext(CreateVmResponse.newBuilder().setVm(Vm.newBuilder().setName(id)
          .setImage(request.getRequestId())).build());
      out.onCompleted();
    }
  }
}
