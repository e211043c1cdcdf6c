package dev.noid.agent.cloudhypervisor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.noid.agent.checkpoint.CheckpointService;
import dev.noid.agent.checkpoint.CheckpointStore;
import dev.noid.agent.checkpoint.DiskCheck;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.NodeCapacity;
import dev.noid.agent.vm.NodeLimits;
import dev.noid.agent.vm.VmManager;
import dev.noid.agent.vm.VmState;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 19 M2: a checkpoint the disk cannot hold is refused before anything is written, and
 * the VM goes on running; one that fits is taken.
 */
@Timeout(120)
class CheckpointDiskCheckTest {
  @TempDir Path tmp;
  private VmManager vms;

  @AfterEach
  void destroyAll() {
    if (vms != null) {
      vms.list().forEach(r -> vms.destroy(r.id()));
    }
  }

  @Test
  void aCheckpointLargerThanTheFreeDiskIsRefusedAndWritesNothing() throws Exception {
    vms = FakeChVms.manager(tmp, new NodeCapacity(new NodeLimits(4, 4096)));
    vms.create(FakeChVms.spec("web", 256), null);
    CheckpointStore store = new CheckpointStore(Files.createDirectories(tmp.resolve("checkpoints")));
    // 200 MiB free, 64 MiB of it kept in reserve: not room for 256 MiB of guest memory.
    CheckpointService checkpoints = new CheckpointService(store, vms, FakeChVms.driver(tmp),
        new DiskCheck("node-a", 64L << 20, p -> 200L << 20));

    AgentException e = catchThrowableOfType(AgentException.class,
        () -> checkpoints.create("web", "ck-1", "full"));

    assertThat(e).isNotNull();
    assertThat(e.code()).isEqualTo(AgentException.Code.DISK_FULL);
    assertThat(e.getMessage()).startsWith("not enough disk on node node-a: need ");
    assertThat(vms.status("web").state()).isEqualTo(VmState.RUNNING);
    try (Stream<Path> left = Files.list(store.root())) {
      assertThat(left).as("nothing written, not even a partial directory").isEmpty();
    }
  }

  @Test
  void aCheckpointThatFitsIsTaken() throws Exception {
    vms = FakeChVms.manager(tmp, new NodeCapacity(new NodeLimits(4, 4096)));
    vms.create(FakeChVms.spec("web", 256), null);
    CheckpointStore store = new CheckpointStore(Files.createDirectories(tmp.resolve("checkpoints")));
    CheckpointService checkpoints = new CheckpointService(store, vms, FakeChVms.driver(tmp),
        new DiskCheck("node-a", 64L << 20, p -> 1L << 30));

    assertThat(checkpoints.create("web", "ck-1", "fits").getId()).isEqualTo("ck-1");
  }

  /** The controller records a checkpoint from the call's answer only: one nobody waits for goes. */
  @Test
  void aCheckpointWhoseCallerGaveUpIsDiscardedNotPublished() throws Exception {
    vms = FakeChVms.manager(tmp, new NodeCapacity(new NodeLimits(4, 4096)));
    vms.create(FakeChVms.spec("web", 256), null);
    CheckpointStore store = new CheckpointStore(Files.createDirectories(tmp.resolve("checkpoints")));
    CheckpointService checkpoints = new CheckpointService(store, vms, FakeChVms.driver(tmp),
        new DiskCheck("node-a", 64L << 20, p -> 1L << 30));

    AgentException e = catchThrowableOfType(AgentException.class,
        () -> checkpoints.create("web", "ck-1", "late", () -> true));

    assertThat(e).isNotNull();
    assertThat(e.code()).isEqualTo(AgentException.Code.INTERRUPTED);
    assertThat(store.has("ck-1")).isFalse();
    try (Stream<Path> left = Files.list(store.root())) {
      assertThat(left).as("no directory left, partial or published").isEmpty();
    }
    assertThat(vms.status("web").state()).isEqualTo(VmState.RUNNING);
  }
}
