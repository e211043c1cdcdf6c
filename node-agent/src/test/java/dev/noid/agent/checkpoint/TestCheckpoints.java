package dev.noid.agent.checkpoint;

import dev.noid.api.agent.v1.CheckpointInfo;
import dev.noid.api.agent.v1.VmSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/** Checkpoints written as the agent writes them (claimed, filled, published), for tests. */
public final class TestCheckpoints {
  private TestCheckpoints() {}

  /**
   * Publishes checkpoint {@code id} in {@code store} whose saved state (3 bytes of device state
   * and a memory.json) is restored over memory base {@code base}: a QEMU checkpoint's shape.
   */
  public static void over(CheckpointStore store, String id, String base) throws IOException {
    Path dir = store.begin(id);
    Files.write(dir.resolve("vmstate"), new byte[] {1, 2, 3});
    new dev.noid.agent.memory.SavedMemory(dev.noid.agent.memory.SavedMemory.FORMAT, base,
        2L << 20, 512, 0, true).write(dir);
    store.complete(id, CheckpointInfo.newBuilder().setId(id).setVmId("vm1")
        .setHypervisor("HYPERVISOR_KIND_QEMU").setSpec(VmSpec.newBuilder().setId("vm1")).build());
  }

  /** Publishes checkpoint {@code id} in {@code store} with {@code files} (name to content). */
  public static void make(CheckpointStore store, String id, Map<String, byte[]> files)
      throws IOException {
    Path dir = store.begin(id);
    for (Map.Entry<String, byte[]> f : files.entrySet()) {
      Files.write(dir.resolve(f.getKey()), f.getValue());
    }
    store.complete(id, CheckpointInfo.newBuilder().setId(id).setVmId("vm1").setLabel("l")
        .setHypervisor("HYPERVISOR_KIND_QEMU")
        .setSpec(VmSpec.newBuilder().setId("vm1").setMemMib(128)).build());
  }
}
