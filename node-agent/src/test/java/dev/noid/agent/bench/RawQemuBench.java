package dev.noid.agent.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.noid.agent.qemu.QmpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

/**
 * Save and load of one guest by hand, with QEMU alone, in the two ways the agent does it:
 * "old", all of the RAM inside the migration stream, read back before the guest runs; "new",
 * QEMU templating: the RAM is a file (share=on while saving, so the file is the RAM), both
 * sides set x-ignore-shared so the stream holds devices only, and each restore maps the file
 * privately (share=off: copy-on-write, read lazily). The agent's own figures add its work on
 * top of these.
 */
final class RawQemuBench {
  /** Bytes per second: far above what a local pipe takes (QEMU's default is 128 MiB/s). */
  private static final long UNCAPPED = 100L << 30;
  private static final Duration BOOT = Duration.ofMinutes(3);

  /** One method's figures: save seconds, restore-to-running seconds, file sizes on disk. */
  record Result(String method, double saveSeconds, Samples restore, long stateBytes,
      long memoryFileBytes) {}

  private RawQemuBench() {}

  static Result old(RawQemu.Guest g, Path dir, int restores) throws Exception {
    Path state = dir.resolve("vmstate");
    double save = bootAndSave(g, dir, "", List.of(), false, state);
    Samples restore = new Samples("raw QEMU restore to running, old", "s");
    for (int i = 0; i < restores; i++) {
      long t = System.nanoTime();
      try (RawQemu q = RawQemu.start(g, dir, "", List.of("-incoming", "exec:cat " + state));
          QmpClient qmp = q.qmp()) {
        RawQemu.awaitIncoming(qmp);
        qmp.execute("cont", null);
        restore.add((System.nanoTime() - t) / 1e9);
      }
    }
    return new Result("old: RAM in the stream", save, restore, Files.size(state), 0);
  }

  static Result templated(RawQemu.Guest g, Path dir, int restores) throws Exception {
    Path state = dir.resolve("vmstate");
    Path ram = dir.resolve("ram");
    Files.deleteIfExists(ram);
    double save = bootAndSave(g, dir, ",memory-backend=ram0", ram(g, ram, true), true, state);
    Samples restore = new Samples("raw QEMU restore to running, new", "s");
    List<String> extra = new java.util.ArrayList<>(ram(g, ram, false));
    extra.addAll(List.of("-incoming", "defer"));
    for (int i = 0; i < restores; i++) {
      long t = System.nanoTime();
      try (RawQemu q = RawQemu.start(g, dir, ",memory-backend=ram0", extra);
          QmpClient qmp = q.qmp()) {
        ignoreShared(qmp);
        qmp.execute("migrate-incoming", QmpClient.args().put("uri", "exec:cat " + state));
        RawQemu.awaitIncoming(qmp);
        qmp.execute("cont", null);
        restore.add((System.nanoTime() - t) / 1e9);
      }
    }
    return new Result("new: templating (file RAM, x-ignore-shared)", save, restore,
        // Allocated, not apparent: the file is as long as the RAM but has holes where the
        // guest never wrote.
        Files.size(state), dev.noid.agent.vm.Files2.allocatedBytes(ram));
  }

  // Boots, waits for the guest agent, pauses and saves into `state`; returns the save's
  // seconds (migrate sent until completed), the guest paused as the agent's checkpoint does.
  private static double bootAndSave(RawQemu.Guest g, Path dir, String machineExtra,
      List<String> extra, boolean ignoreShared, Path state) throws Exception {
    Files.deleteIfExists(state);
    Files.deleteIfExists(dir.resolve("serial.log"));
    try (RawQemu q = RawQemu.start(g, dir, machineExtra, extra); QmpClient qmp = q.qmp()) {
      q.awaitGuestUp(BOOT);
      if (ignoreShared) {
        ignoreShared(qmp);
      }
      qmp.execute("stop", null);
      qmp.execute("migrate-set-parameters", QmpClient.args().put("max-bandwidth", UNCAPPED));
      long t = System.nanoTime();
      qmp.execute("migrate", QmpClient.args().put("uri", "exec:cat > '" + state + "'"));
      RawQemu.awaitOutgoing(qmp);
      return (System.nanoTime() - t) / 1e9;
    }
  }

  private static List<String> ram(RawQemu.Guest g, Path file, boolean share) {
    return List.of("-object", String.format(Locale.ROOT,
        "memory-backend-file,id=ram0,size=%dM,mem-path=%s,share=%s", g.memMib(), file,
        share ? "on" : "off"));
  }

  private static void ignoreShared(QmpClient qmp) throws Exception {
    ObjectNode args = QmpClient.args();
    args.putArray("capabilities").addObject().put("capability", "x-ignore-shared")
        .put("state", true);
    qmp.execute("migrate-set-capabilities", args);
  }
}
