package dev.noid.agent.cloudhypervisor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.noid.agent.checkpoint.CheckpointService;
import dev.noid.agent.checkpoint.CheckpointStore;
import dev.noid.agent.hypervisor.Hypervisor;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.NodeCapacity;
import dev.noid.agent.vm.NodeLimits;
import dev.noid.agent.vm.VmManager;
import dev.noid.agent.vm.VmState;
import dev.noid.api.agent.v1.VmSpec;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A delete of a checkpoint that a restore is reading. The restore has stopped the VM it
 * restores into and swapped in the checkpoint's disk by the time it asks the VMM to load the
 * checkpoint's state; a delete then would leave that VM stopped, over the checkpoint's disk,
 * with the checkpoint gone. The delete here is sent at that very moment, from the VMM's restore
 * call, and must be refused while the restore goes on.
 */
@Timeout(120)
class CheckpointDeleteDuringRestoreTest {
  @TempDir Path tmp;
  private VmManager vms;
  private CheckpointService checkpoints;
  private final List<Throwable> deletesDuringRestore = new ArrayList<>();

  @AfterEach
  void destroyAll() {
    if (vms != null) {
      vms.list().forEach(r -> vms.destroy(r.id()));
    }
  }

  /** The driver, with a delete of {@code checkpointId} sent as each restore begins. */
  private Hypervisor deletingAtRestore(Hypervisor driver, String checkpointId) {
    return (Hypervisor) Proxy.newProxyInstance(Hypervisor.class.getClassLoader(),
        new Class<?>[] {Hypervisor.class}, (proxy, method, args) -> {
          if (method.getName().equals("restore")) {
            deletesDuringRestore.add(catchThrowable(() -> checkpoints.delete(checkpointId)));
          }
          try {
            return method.invoke(driver, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
        });
  }

  @Test
  void aDeleteWhileARestoreInPlaceReadsTheCheckpointIsRefusedAndTheRestoreCompletes()
      throws Exception {
    Hypervisor hypervisor = deletingAtRestore(FakeChVms.driver(tmp), "ck-1");
    vms = FakeChVms.manager(tmp, new NodeCapacity(new NodeLimits(4, 4096)), hypervisor);
    vms.create(FakeChVms.spec("web", 256), null);
    CheckpointStore store = new CheckpointStore(Files.createDirectories(tmp.resolve("checkpoints")));
    checkpoints = new CheckpointService(store, vms, hypervisor);
    checkpoints.create("web", "ck-1", "before");

    checkpoints.restore("ck-1", VmSpec.newBuilder().setId("web").build(), Duration.ofSeconds(60));

    assertThat(deletesDuringRestore).singleElement()
        .isInstanceOfSatisfying(AgentException.class, e -> {
          assertThat(e.code()).isEqualTo(AgentException.Code.BUSY);
          assertThat(e.getMessage()).contains("checkpoint 'ck-1' is being restored");
        });
    assertThat(vms.status("web").state()).isEqualTo(VmState.RUNNING);
    assertThat(store.has("ck-1")).isTrue();

    // Once the restore is over, the checkpoint deletes as any other.
    checkpoints.delete("ck-1");
    assertThat(store.has("ck-1")).isFalse();
  }
}
