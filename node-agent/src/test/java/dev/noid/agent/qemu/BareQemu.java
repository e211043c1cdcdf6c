package dev.noid.agent.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** A real QEMU with no machine and no guest, for what its monitor and TLS do on their own. */
final class BareQemu {
  private BareQemu() {}

  /**
   * Starts {@code qemu-system-x86_64 -machine none} with {@code args}, its output in
   * {@code dir/qemu.log}, and returns once {@code control} (one of its QMP sockets) exists.
   */
  static Process start(Path dir, Path control, String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of("qemu-system-x86_64", "-machine", "none",
        "-nographic", "-display", "none"));
    command.addAll(List.of(args));
    Process qemu = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(dir.resolve("qemu.log").toFile()).start();
    await().atMost(Duration.ofSeconds(10)).until(() -> Files.exists(control) || !qemu.isAlive());
    assertThat(qemu.isAlive()).as("QEMU started").isTrue();
    return qemu;
  }
}
