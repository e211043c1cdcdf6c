package dev.noid.cli;

import dev.noid.common.tls.Certificates;
import dev.noid.common.tls.KeyAndCertificate;
import dev.noid.common.tls.Pem;
import io.grpc.BindableService;
import io.grpc.Grpc;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.TlsServerCredentials;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A TLS gRPC server on a loopback port playing the controller with the given services, and
 * the environment that points the CLI at it (its CA, a token, a config home of its own).
 */
final class TlsController implements AutoCloseable {
  private final Server server;
  final Map<String, String> env;

  TlsController(Path home, BindableService... services) throws IOException {
    KeyAndCertificate ca = Certificates.newCertificateAuthority("test CA");
    KeyAndCertificate cert = Certificates.newServerCertificate(ca, "controller", List.of());
    ServerBuilder<?> b = Grpc.newServerBuilderForPort(0, TlsServerCredentials.newBuilder()
        .keyManager(
            new ByteArrayInputStream(cert.certificatePem().getBytes(StandardCharsets.US_ASCII)),
            new ByteArrayInputStream(Pem.encode(cert.key()).getBytes(StandardCharsets.US_ASCII)))
        .build());
    for (BindableService s : services) {
      b.addService(s);
    }
    server = b.build().start();
    Path caFile = home.resolve("ca.pem");
    Files.writeString(caFile, ca.certificatePem());
    env = Map.of("HOME", home.toString(), "NOID_URL", "localhost:" + server.getPort(),
        "NOID_TOKEN", "noid_tok_test", "NOID_CA_FILE", caFile.toString());
  }

  @Override
  public void close() {
    server.shutdownNow();
  }
}
