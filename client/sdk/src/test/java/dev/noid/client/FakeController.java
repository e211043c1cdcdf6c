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
import io.grpc.Server;
import io.grpc.TlsServerCredentials;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * A TLS gRPC server on a loopback port standing in for one controller: its health service
 * says whether it leads, and its VmService answers with its own id so tests see who served.
 */
final class FakeController implements AutoCloseable {
  final String id;
  private final HealthStatusManager health = new HealthStatusManager();
  private final Server server;

  FakeController(String id, KeyAndCertificate cert) throws IOException {
    this.id = id;
    TlsServerCredentials.Builder tls = TlsServerCredentials.newBuilder().keyManager(
        new ByteArrayInputStream(cert.certificatePem().getBytes(StandardCharsets.US_ASCII)),
        new ByteArrayInputStream(Pem.encode(cert.key()).getBytes(StandardCharsets.US_ASCII)));
    server = Grpc.newServerBuilderForPort(0, tls.build())
        .addService(health.getHealthService())
        .addService(new Vms())
        .build().start();
    follow();
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
    public void createVm(CreateVmRequest request, StreamObserver<CreateVmResponse> out) {
      // The request id comes back as the image so the test can see what was sent.
      out.onNext(CreateVmResponse.newBuilder().setVm(Vm.newBuilder().setName(id)
          .setImage(request.getRequestId())).build());
      out.onCompleted();
    }
  }
}
