package dev.noid.agent.cloudhypervisor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fake VMM's migration refuses what Cloud Hypervisor's receive loop refuses (vmm/src/lib.rs,
 * vm_receive_migration_step): a stream that does not begin with Start, another protocol
 * version, memory outside the guest's RAM; and its send refuses local migration without shared
 * memory. Raw frames, not the agent's relay, so that wrong streams can be sent at all.
 */
@Timeout(120)
class FakeMigrationTest {
  @TempDir Path tmp;
  private Process vmm;
  private UnixHttpClient http;
  private Path socket;

  @BeforeEach
  void start() throws Exception {
    Path api = tmp.resolve("api.sock");
    vmm = new ProcessBuilder(FakeChBinary.write(tmp.resolve("bin")).toString(),
        "--api-socket", "path=" + api).redirectErrorStream(true)
        .redirectOutput(tmp.resolve("vmm.log").toFile()).start();
    http = new UnixHttpClient(api, Duration.ofSeconds(30));
    await().atMost(Duration.ofSeconds(60)).ignoreExceptions()
        .until(() -> http.send("GET", "/api/v1/vmm.ping", null).status() == 200);
    socket = tmp.resolve("in.sock");
  }

  @AfterEach
  void stop() {
    vmm.destroyForcibly();
  }

  @Test
  void aStreamMustBeginWithStart() throws Exception {
    CompletableFuture<UnixHttpClient.Response> receiving = receive();
    try (SocketChannel ch = connect()) {
      FakeMigrationWire.write(Channels.newOutputStream(ch), FakeMigrationWire.CONFIG, 0);
      assertThat(FakeMigrationWire.read(Channels.newInputStream(ch)).code())
          .isEqualTo(FakeMigrationWire.ERROR);
    }
    assertAborted(receiving);
  }

  @Test
  void anotherProtocolVersionIsRefused() throws Exception {
    CompletableFuture<UnixHttpClient.Response> receiving = receive();
    try (SocketChannel ch = connect()) {
      OutputStream out = Channels.newOutputStream(ch);
      out.write(new byte[] {1, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
      assertThat(FakeMigrationWire.read(Channels.newInputStream(ch)).code())
          .isEqualTo(FakeMigrationWire.ERROR);
    }
    assertAborted(receiving);
  }

  @Test
  void memoryOutsideTheGuestsRamIsRefused() throws Exception {
    CompletableFuture<UnixHttpClient.Response> receiving = receive();
    try (SocketChannel ch = connect()) {
      OutputStream out = Channels.newOutputStream(ch);
      InputStream in = Channels.newInputStream(ch);
      FakeMigrationWire.write(out, FakeMigrationWire.START, 0);
      assertThat(FakeMigrationWire.read(in).code()).isEqualTo(FakeMigrationWire.OK);
      byte[] config = """
          {"vm_config":{"payload":{"kernel":"/k"},"memory":{"size":67108864}},
           "common_cpuid":[],"memory_manager_data":{}}""".getBytes(StandardCharsets.UTF_8);
      FakeMigrationWire.write(out, FakeMigrationWire.CONFIG, config.length);
      out.write(config);
      assertThat(FakeMigrationWire.read(in).code()).isEqualTo(FakeMigrationWire.OK);
      // One write: the VMM may refuse on reading the table and close before the data.
      java.io.ByteArrayOutputStream frame = new java.io.ByteArrayOutputStream();
      FakeMigrationWire.write(frame, FakeMigrationWire.MEMORY, 16);
      frame.write(FakeMigrationWire.range(64L << 20, 4096));
      frame.write(new byte[4096]);
      out.write(frame.toByteArray());
      assertThat(FakeMigrationWire.read(in).code()).isEqualTo(FakeMigrationWire.ERROR);
    }
    assertAborted(receiving);
  }

  @Test
  void localMigrationNeedsSharedMemory() throws Exception {
    Path kernel = Files.writeString(tmp.resolve("vmlinuz"), "k");
    assertThat(put("vm.create", "{\"payload\":{\"kernel\":\"" + kernel + "\"},"
        + "\"memory\":{\"size\":67108864}}").status()).isEqualTo(204);
    assertThat(put("vm.boot", null).status()).isEqualTo(204);

    UnixHttpClient.Response r = put("vm.send-migration",
        "{\"destination_url\":\"unix:" + socket + "\",\"local\":true}");

    assertThat(r.status()).isEqualTo(500);
    assertThat(r.text()).contains("Local migration requires shared memory");
  }

  private CompletableFuture<UnixHttpClient.Response> receive() {
    return CompletableFuture.supplyAsync(() -> {
      try {
        return put("vm.receive-migration", "{\"receiver_url\":\"unix:" + socket + "\"}");
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    });
  }

  private SocketChannel connect() {
    await().atMost(Duration.ofSeconds(30)).until(() -> Files.exists(socket));
    try {
      SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
      ch.connect(UnixDomainSocketAddress.of(socket));
      return ch;
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static void assertAborted(CompletableFuture<UnixHttpClient.Response> receiving) {
    UnixHttpClient.Response r = receiving.join();
    assertThat(r.status()).isEqualTo(500);
    assertThat(r.text()).contains("Migration was aborted");
  }

  private UnixHttpClient.Response put(String call, String body) throws IOException {
    return http.send("PUT", "/api/v1/" + call,
        body == null ? null : body.getBytes(StandardCharsets.UTF_8));
  }
}
