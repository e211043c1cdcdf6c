package dev.noid.agent.cloudhypervisor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fake VMM itself: what it refuses must be what the real one refuses, so that a driver bug
 * cannot pass here and fail in production. Raw HTTP, not the driver, so that malformed
 * requests can be sent at all.
 */
@Timeout(120)
class FakeCloudHypervisorTest {
  @TempDir Path tmp;
  private Process vmm;
  private UnixHttpClient http;
  private Path kernel;

  @BeforeEach
  void start() throws Exception {
    Path api = tmp.resolve("api.sock");
    vmm = new ProcessBuilder(FakeChBinary.write(tmp.resolve("bin")).toString(),
        "--api-socket", "path=" + api, "--event-monitor", "path=" + tmp.resolve("events.json"))
        .redirectErrorStream(true).redirectOutput(tmp.resolve("vmm.log").toFile()).start();
    http = new UnixHttpClient(api, Duration.ofSeconds(10));
    await().atMost(Duration.ofSeconds(60)).ignoreExceptions()
        .until(() -> http.send("GET", "/api/v1/vmm.ping", null).status() == 200);
    kernel = Files.writeString(tmp.resolve("vmlinuz"), "k");
  }

  @AfterEach
  void stop() {
    vmm.destroyForcibly();
  }

  @Test
  void memorySizeAsAStringIsRejectedBySchema() throws IOException {
    UnixHttpClient.Response r = put("vm.create", """
        {"payload":{"kernel":"%s"},"memory":{"size":"128M"}}""".formatted(kernel));

    assertThat(r.status()).isEqualTo(400);
    assertThat(chain(r)).anyMatch(s -> s.contains("/memory/size") && s.contains("string found"));
  }

  @Test
  void aConfigWithoutPayloadIsRejected() throws IOException {
    UnixHttpClient.Response r = put("vm.create", "{\"cpus\":{\"boot_vcpus\":1,\"max_vcpus\":1}}");

    assertThat(r.status()).isEqualTo(400);
    assertThat(chain(r)).anyMatch(s -> s.contains("payload"));
  }

  @Test
  void cpusWithoutMaxVcpusIsRejected() throws IOException {
    UnixHttpClient.Response r = put("vm.create", """
        {"payload":{"kernel":"%s"},"cpus":{"boot_vcpus":1}}""".formatted(kernel));

    assertThat(r.status()).isEqualTo(400);
    assertThat(chain(r)).anyMatch(s -> s.contains("max_vcpus"));
  }

  @Test
  void everyHostFileAConfigNamesIsOpenedAndMustExist() throws IOException {
    Path pmem = Files.writeString(tmp.resolve("pmem.img"), "p");
    UnixHttpClient.Response missing = put("vm.create", """
        {"payload":{"kernel":"%s"},"pmem":[{"file":"%s"}]}""".formatted(kernel, tmp.resolve("none")));

    assertThat(missing.status()).isEqualTo(400);
    assertThat(chain(missing)).anyMatch(s -> s.contains(tmp.resolve("none") + " does not exist"));

    UnixHttpClient.Response ok = put("vm.create", """
        {"payload":{"kernel":"%s"},"pmem":[{"file":"%s"}]}""".formatted(kernel, pmem));

    assertThat(ok.status()).isEqualTo(204);
    assertThat(Files.readAllLines(FakeVmm.openedLog(tmp.resolve("api.sock"))))
        .containsExactly(kernel.toString(), pmem.toString());
  }

  @Test
  void createWithoutABodyIsRejected() throws IOException {
    assertThat(http.send("PUT", "/api/v1/vm.create", null).status()).isEqualTo(400);
  }

  @Test
  void bootWithoutAVmIs404WithAnErrorChain() throws IOException {
    UnixHttpClient.Response r = put("vm.boot", null);

    assertThat(r.status()).isEqualTo(404);
    assertThat(chain(r)).contains("VM is not created");
  }

  @Test
  void aWrongStateIs500NotTheSpecs405() throws IOException {
    assertThat(put("vm.create", minimalConfig()).status()).isEqualTo(204);

    UnixHttpClient.Response r = put("vm.pause", null);

    assertThat(r.status()).isEqualTo(500);
    assertThat(chain(r)).anyMatch(s -> s.contains("Created to Paused"));
  }

  @Test
  void aSecondCreateIsRefused() throws IOException {
    assertThat(put("vm.create", minimalConfig()).status()).isEqualTo(204);

    assertThat(put("vm.create", minimalConfig()).status()).isEqualTo(500);
  }

  @Test
  void serialAndVsockSocketsMustNotExistBeforeBoot() throws IOException {
    Files.writeString(tmp.resolve("serial.sock"), "left over");
    assertThat(put("vm.create", minimalConfig()).status()).isEqualTo(204);

    UnixHttpClient.Response r = put("vm.boot", null);

    assertThat(r.status()).isEqualTo(500);
    assertThat(chain(r)).anyMatch(s -> s.contains("serial.sock") && s.contains("already exists"));
  }

  @Test
  void onDemandWithPrefaultIsRejected() throws IOException {
    UnixHttpClient.Response r = put("vm.restore", """
        {"source_url":"file://%s","memory_restore_mode":"OnDemand","prefault":true}""".formatted(tmp));

    assertThat(r.status()).isEqualTo(400);
  }

  @Test
  void restoreNeedsAFreshVmm() throws IOException {
    assertThat(put("vm.create", minimalConfig()).status()).isEqualTo(204);

    UnixHttpClient.Response r = put("vm.restore", "{\"source_url\":\"file://" + tmp + "\"}");

    assertThat(r.status()).isEqualTo(500);
    assertThat(chain(r)).anyMatch(s -> s.contains("fresh VMM"));
  }

  @Test
  void anUnknownMemoryRestoreModeIsRejectedBySchema() throws IOException {
    UnixHttpClient.Response r = put("vm.restore", """
        {"source_url":"file://%s","memory_restore_mode":"Lazy"}""".formatted(tmp));

    assertThat(r.status()).isEqualTo(400);
  }

  @Test
  void theSerialSocketTakesOneClientAtATime() throws Exception {
    assertThat(put("vm.create", minimalConfig()).status()).isEqualTo(204);
    assertThat(put("vm.boot", null).status()).isEqualTo(204);

    try (SocketChannel first = connect(tmp.resolve("serial.sock"));
        SocketChannel second = connect(tmp.resolve("serial.sock"))) {
      ByteBuffer buf = ByteBuffer.allocate(4096);
      // The displaced client sees end-of-file once the second one is attached.
      int n;
      while ((n = first.read(buf)) >= 0) {
        buf.clear();
      }
      assertThat(n).isEqualTo(-1);
      second.write(ByteBuffer.wrap("still here\n".getBytes(StandardCharsets.UTF_8)));
      StringBuilder seen = new StringBuilder();
      while (!seen.toString().contains("still here")) {
        buf.clear();
        assertThat(second.read(buf)).isPositive();
        seen.append(new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8));
      }
    }
  }

  @Test
  void eventsArePrettyPrintedObjectsOneAfterAnother() throws Exception {
    assertThat(put("vm.create", minimalConfig()).status()).isEqualTo(204);
    assertThat(put("vm.boot", null).status()).isEqualTo(204);

    Path file = tmp.resolve("events.json");
    List<VmmEvent> events;
    try (var in = Files.newInputStream(file)) {
      events = VmmEventReader.readAll(in);
    }
    assertThat(events).extracting(VmmEvent::event).containsSubsequence("starting", "booting", "booted");
    assertThat(Files.readAllLines(file).size()).as("multi-line objects")
        .isGreaterThan(events.size() * 3);
  }

  private String minimalConfig() {
    return """
        {"payload":{"kernel":"%s","cmdline":"console=ttyS0"},
         "cpus":{"boot_vcpus":1,"max_vcpus":1},"memory":{"size":134217728},
         "serial":{"mode":"Socket","socket":"%s"},"console":{"mode":"Off"},
         "vsock":{"cid":3,"socket":"%s"}}""".formatted(kernel, tmp.resolve("serial.sock"),
        tmp.resolve("vsock.sock"));
  }

  private UnixHttpClient.Response put(String call, String body) throws IOException {
    return http.send("PUT", "/api/v1/" + call,
        body == null ? null : body.getBytes(StandardCharsets.UTF_8));
  }

  private static List<String> chain(UnixHttpClient.Response r) throws IOException {
    JsonNode n = VmmApi.JSON.readTree(r.body());
    assertThat(n.isArray()).as("error body is a JSON array: " + r.text()).isTrue();
    return VmmApi.errorChain(r.body());
  }

  private static SocketChannel connect(Path p) throws IOException {
    SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
    ch.connect(UnixDomainSocketAddress.of(p));
    return ch;
  }
}
