package dev.noid.common.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.common.tls.Certificates;
import dev.noid.common.tls.KeyAndCertificate;
import dev.noid.common.tls.Pem;
import dev.noid.common.tls.TlsFiles;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The health and metrics listener over real sockets and TLS. */
class HttpsEndpointTest {
  @TempDir Path dir;

  /**
   * Connections that send a byte and stall (no handshake, no request), more than the listener
   * has threads: the server closes them, and a probe is answered again. (A probe that arrives
   * while they hold every thread waits with them and may be closed too: the JDK server starts
   * a request's clock when it queues it.)
   */
  @Test
  void stalledConnectionsDoNotSilenceTheHealthPath() throws Exception {
    KeyAndCertificate ca = Certificates.newCertificateAuthority("test CA");
    Pem.write(dir.resolve("ca.pem"), ca.certificatePem(), false);
    Certificates.newServerCertificate(ca, "controller", List.of("127.0.0.1"))
        .write(dir.resolve("server.pem"), dir.resolve("server-key.pem"));
    TlsFiles files = new TlsFiles(dir.resolve("server.pem"), dir.resolve("server-key.pem"),
        dir.resolve("ca.pem"));
    try (HttpsEndpoint endpoint = new HttpsEndpoint("HTTPS",
        new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), files.sslContext())) {
      endpoint.route("/healthz", exchange -> {
        byte[] body = "ok".getBytes(StandardCharsets.UTF_8);
        exchange.sendResponseHeaders(200, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
          out.write(body);
        }
      }).start();
      List<Socket> stalled = new ArrayList<>();
      try {
        for (int i = 0; i < HttpsEndpoint.HANDLER_THREADS + 2; i++) {
          Socket s = new Socket(InetAddress.getLoopbackAddress(), endpoint.port());
          s.getOutputStream().write(0x16); // a TLS handshake record's first byte, then nothing
          s.getOutputStream().flush();
          stalled.add(s);
        }
        for (Socket s : stalled) {
          // Each is ended by the server: its read sees the end of the stream, not the timeout.
          s.setSoTimeout(HttpsEndpoint.MAX_REQUEST_SECONDS * 6_000);
          assertThat(closedByServer(s)).as("a stalled connection is closed").isTrue();
        }
        HttpClient client = HttpClient.newBuilder()
            .sslContext(TlsFiles.trusting(dir.resolve("ca.pem"))).build();
        HttpResponse<String> answer = client.send(HttpRequest.newBuilder(
                URI.create("https://127.0.0.1:" + endpoint.port() + "/healthz"))
            .timeout(Duration.ofSeconds(HttpsEndpoint.MAX_REQUEST_SECONDS * 6L)).build(),
            HttpResponse.BodyHandlers.ofString());

        assertThat(answer.statusCode()).isEqualTo(200);
        assertThat(answer.body()).isEqualTo("ok");
      } finally {
        for (Socket s : stalled) {
          s.close();
        }
      }
    }
  }

  /** True once the server ends the connection (an alert and the end, or a reset); false on timeout. */
  private static boolean closedByServer(Socket s) throws java.io.IOException {
    try {
      s.getInputStream().readAllBytes();
      return true;
    } catch (java.net.SocketTimeoutException e) {
      return false;
    } catch (java.net.SocketException reset) {
      return true;
    }
  }
}
