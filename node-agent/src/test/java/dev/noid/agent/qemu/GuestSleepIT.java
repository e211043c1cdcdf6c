package dev.noid.agent.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.hypervisor.VmmRunState;
import dev.noid.agent.image.Image;
import dev.noid.agent.image.ImageCatalog;
import dev.noid.agent.memory.MemoryBases;
import dev.noid.api.agent.v1.VmSpec;
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
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A guest that puts itself to sleep in ACPI S3, with a real QEMU guest driven through its serial
 * console as a person at it would. QEMU then reports "suspended": an agent adopting that VMM
 * calls the VM PAUSED (its guest does not run), so a resume must wake it, which cont does not.
 * S3 stays offered: without it the kernel's "mem" is suspend-to-idle, from which no one outside
 * the guest can wake it.
 */
class GuestSleepIT {
  private static final Duration BOOT = Duration.ofMinutes(2);

  @TempDir Path dir;
  private QemuDriver driver;
  private VmLayout layout;
  private long pid;
  private SocketChannel console;

  private List<String> commandLine() throws Exception {
    Path images = Path.of(System.getProperty("noid.images.dir"));
    Image image = ImageCatalog.scan(List.of(images)).get("dev");
    layout = new VmLayout(dir.resolve("vm"));
    Files.createDirectories(layout.dir());
    Files.copy(image.disk(), layout.disk());
    driver = new QemuDriver("qemu-system-x86_64", new Accelerator("tcg", "test"),
        new MemoryBases(dir.resolve("memory")));
    return driver.commandLine(layout,
        VmSpec.newBuilder().setId("sleeper").setCpus(1).setMemMib(128).setImage("dev").build(),
        image);
  }

  private void boot(List<String> cmd) throws Exception {
    pid = driver.start(layout, cmd);
    await("the guest's console prompt").atMost(BOOT).pollInterval(Duration.ofMillis(200))
        .until(() -> serial().contains("NOID-READY"));
  }

  @AfterEach
  void stop() throws Exception {
    if (console != null) {
      console.close();
    }
    if (pid > 0) {
      driver.shutdown(layout, pid);
    }
  }

  private String serial() throws Exception {
    return Files.exists(layout.serialLog()) ? Files.readString(layout.serialLog()) : "";
  }

  /**
   * Types a line at the console. The connection stays open: QEMU drops what it has not yet fed
   * the guest's UART when its client hangs up. The leading newline answers the shell's first
   * cursor query. What the guest prints is read and dropped (serial.log has it): QEMU writes it
   * to the client a byte at a time, so a few hundred unread bytes fill the socket's buffer, and
   * then the guest's UART stops sending and its kernel drops console output.
   */
  private void type(String line) throws Exception {
    if (console == null) {
      console = SocketChannel.open(StandardProtocolFamily.UNIX);
      console.connect(UnixDomainSocketAddress.of(layout.consoleSocket()));
      SocketChannel open = console;
      Thread.ofVirtual().name("console-reader").start(() -> drain(open));
    }
    console.write(ByteBuffer.wrap(("\n" + line + "\n").getBytes(StandardCharsets.UTF_8)));
  }

  private static void drain(SocketChannel open) {
    ByteBuffer buffer = ByteBuffer.allocate(8192);
    try {
      while (open.read(buffer.clear()) >= 0) {
        // serial.log holds the same bytes
      }
    } catch (IOException e) {
      // closed by stop()
    }
  }

  /**
   * Runs {@code script} at the console and returns what it printed. The markers are computed by
   * the shell, so the echo of the typed line does not contain them.
   */
  private String console(String script, String tag) throws Exception {
    String begin = "<" + tag + "-B>";
    String end = "<" + tag + "-E>";
    type("echo \"<" + tag + "-\"\"B>\"; " + script + "; echo \"<" + tag + "-\"\"E>\"");
    try {
      await(tag + " at the console").atMost(BOOT).pollInterval(Duration.ofMillis(100))
          .until(() -> serial().contains(end));
    } catch (ConditionTimeoutException e) {
      String log = serial();
      throw new AssertionError(e.getMessage() + "; the console's last output:\n"
          + log.substring(Math.max(0, log.length() - 2000)), e);
    }
    String log = serial();
    return log.substring(log.lastIndexOf(begin) + begin.length(), log.lastIndexOf(end)).strip();
  }

  private String vmmState() throws Exception {
    try (QmpClient qmp = QemuDriver.qmp(layout)) {
      return qmp.execute("query-status", null).path("status").asText();
    }
  }

  @Test
  void aGuestAsleepInS3IsPausedAndAResumeWakesIt() throws Exception {
    boot(commandLine());
    type("echo mem > /sys/power/state");
    await("the guest asleep").atMost(BOOT).until(() -> "suspended".equals(vmmState()));

    assertThat(driver.runState(layout)).isEqualTo(VmmRunState.paused("suspended"));
    driver.resume(layout);

    await("the guest awake").atMost(BOOT).until(() -> "running".equals(vmmState()));
    assertThat(console("hostname", "woken")).isEqualTo("sleeper");
  }
}
