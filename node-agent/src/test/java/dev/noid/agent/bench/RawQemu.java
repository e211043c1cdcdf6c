package dev.noid.agent.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.noid.agent.qemu.QmpClient;
import java.io.IOException;
import java.io.InputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One QEMU started by hand, without the agent: the command line has the shape of
 * QemuDriver.commandLine (same machine, kernel, initramfs, command line, virtio disk, serial
 * console, virtio-serial port for the guest agent, QMP on a unix socket), so what the
 * benchmarks time against it is what QEMU itself costs, the floor under the agent's figures.
 * Closing kills the process and waits for it.
 */
final class RawQemu implements AutoCloseable {
  private static final Duration CONTROL = Duration.ofSeconds(30);
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The guest: an image's kernel, initramfs and command line over a raw copy of its disk. */
  record Guest(String binary, String accel, Path kernel, Path initramfs, String cmdline,
      Path disk, int memMib) {

    /** Reads IMAGE_DIR/NAME/image.json; the disk is copied to {@code diskCopy} (sparse). */
    static Guest fromImage(String binary, String accel, Path imageDir, Path diskCopy, int memMib)
        throws Exception {
      JsonNode image = JSON.readTree(imageDir.resolve("image.json").toFile());
      Files.createDirectories(diskCopy.getParent());
      Process cp = new ProcessBuilder("cp", "--sparse=always",
          imageDir.resolve(image.path("disk").asText()).toString(), diskCopy.toString())
          .inheritIO().start();
      if (cp.waitFor() != 0) {
        throw new IOException("cannot copy the disk of " + imageDir + " to " + diskCopy);
      }
      Path initramfs = image.hasNonNull("initramfs")
          ? imageDir.resolve(image.get("initramfs").asText()) : null;
      return new Guest(binary, accel, imageDir.resolve(image.path("kernel").asText()), initramfs,
          image.path("cmdline").asText(), diskCopy, memMib);
    }
  }

  private final Process process;
  private final Path dir;

  private RawQemu(Process process, Path dir) {
    this.process = process;
    this.dir = dir;
  }

  /**
   * Starts QEMU with its sockets in {@code dir}; returns once QMP answers. {@code machineExtra}
   * is appended to -machine (e.g. ",memory-backend=ram0"), {@code extra} to the command line.
   */
  static RawQemu start(Guest g, Path dir, String machineExtra, List<String> extra)
      throws Exception {
    Files.createDirectories(dir);
    for (String s : List.of("qmp.sock", "agent.sock", "console.sock", "qemu.pid")) {
      Files.deleteIfExists(dir.resolve(s));
    }
    List<String> cmd = new ArrayList<>(List.of(g.binary(),
        "-name", "raw",
        "-machine", "q35,accel=" + g.accel() + machineExtra,
        "-cpu", "kvm".equals(g.accel()) ? "host" : "qemu64",
        "-smp", "1",
        "-m", g.memMib() + "M",
        "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
        "-kernel", g.kernel().toString(),
        "-append", g.cmdline() + " noid.hostname=raw"));
    if (g.initramfs() != null) {
      cmd.addAll(List.of("-initrd", g.initramfs().toString()));
    }
    cmd.addAll(List.of(
        "-drive", "file=" + g.disk() + ",if=virtio,format=raw,cache=writeback,id=disk0",
        "-chardev", "socket,id=ser0,path=" + dir.resolve("console.sock") + ",server=on,wait=off,"
            + "logfile=" + dir.resolve("serial.log") + ",logappend=on",
        "-serial", "chardev:ser0",
        "-device", "virtio-serial-pci,id=vser0",
        "-chardev", "socket,id=agent0,path=" + dir.resolve("agent.sock") + ",server=on,wait=off",
        "-device", "virtserialport,bus=vser0.0,chardev=agent0,name=org.noid.agent.0",
        "-device", "virtio-rng-pci",
        "-qmp", "unix:" + dir.resolve("qmp.sock") + ",server=on,wait=off",
        // For bench-lib.sh's cleanup, should this JVM die before closing it.
        "-pidfile", dir.resolve("qemu.pid").toString()));
    cmd.addAll(extra);
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("qemu.log").toFile()))
        .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start();
    RawQemu q = new RawQemu(p, dir);
    try {
      Poll.until("QEMU's QMP socket in " + dir, CONTROL, Duration.ofMillis(1), () -> {
        if (!p.isAlive()) {
          throw new IOException("QEMU exited with " + p.exitValue() + ": " + q.logTail());
        }
        return Files.exists(dir.resolve("qmp.sock"));
      });
      return q;
    } catch (Exception e) {
      q.close();
      throw e;
    }
  }

  QmpClient qmp() throws IOException {
    return QmpClient.connect(dir.resolve("qmp.sock"), CONTROL);
  }

  long pid() {
    return process.pid();
  }

  /**
   * Waits for a booted guest: init's NOID-READY on the console, then the guest agent's HELLO
   * on its port (what the agent waits for before a VM is ready).
   */
  void awaitGuestUp(Duration limit) throws Exception {
    Path log = dir.resolve("serial.log");
    Poll.until("NOID-READY on the console of the raw guest (" + log + ")", limit,
        Duration.ofMillis(20), () -> Files.exists(log) && Files.readString(log).contains("NOID-READY"));
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.connect(UnixDomainSocketAddress.of(dir.resolve("agent.sock")));
      InputStream in = Channels.newInputStream(ch);
      // The first frame's length prefix: enough to know the guest agent answered.
      if (in.readNBytes(4).length < 4) {
        throw new IOException("the raw guest's agent port closed before HELLO");
      }
    }
  }

  /** Polls query-status until the incoming migration is done; fails unless paused or running. */
  static void awaitIncoming(QmpClient qmp) throws Exception {
    String[] status = new String[1];
    Poll.until("the incoming migration", CONTROL, Duration.ofMillis(1), () ->
        !"inmigrate".equals(status[0] = qmp.execute("query-status", null).path("status").asText()));
    if (!"paused".equals(status[0]) && !"running".equals(status[0])) {
      throw new IOException("the raw restore ended in state " + status[0]);
    }
  }

  /** Polls query-migrate until the outgoing migration completed. */
  static void awaitOutgoing(QmpClient qmp) throws Exception {
    Poll.until("the raw save", Duration.ofMinutes(5), Duration.ofMillis(1), () -> {
      JsonNode m = qmp.execute("query-migrate", null);
      String s = m.path("status").asText();
      if ("failed".equals(s) || "cancelled".equals(s)) {
        throw new IOException("the raw save " + s + ": " + m.path("error-desc").asText());
      }
      return "completed".equals(s);
    });
  }

  private String logTail() {
    try {
      List<String> lines = Files.readAllLines(dir.resolve("qemu.log"));
      return String.join(" / ", lines.subList(Math.max(0, lines.size() - 5), lines.size()));
    } catch (IOException e) {
      return "(no log)";
    }
  }

  @Override
  public void close() throws InterruptedException {
    process.destroyForcibly();
    if (!process.waitFor(30, TimeUnit.SECONDS)) {
      throw new IllegalStateException("QEMU " + process.pid() + " did not die on SIGKILL");
    }
  }
}
