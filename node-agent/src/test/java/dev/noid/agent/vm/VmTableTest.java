package dev.noid.agent.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.api.agent.v1.VmSpec;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The node's VMs by id: admission and the lock an operation takes. */
class VmTableTest {
  @TempDir Path dir;
  private final NodeCapacity capacity = new NodeCapacity(new NodeLimits(2, 1024));
  private final VmTable table = new VmTable(capacity);

  private VmRecord vm(String id, int memMib) {
    return new VmRecord(VmSpec.newBuilder().setId(id).setCpus(1).setMemMib(memMib).build(),
        new VmLayout(dir.resolve(id)));
  }

  private static AgentException.Code codeOf(Throwable t) {
    return ((AgentException) t).code();
  }

  @Test
  void anOperationThatWaitedForADestroyedVmFindsItGone() throws Exception {
    VmRecord vm = vm("a", 256);
    table.admit(vm);
    AtomicReference<Throwable> seen = new AtomicReference<>();
    vm.lock.lock();
    Thread waiter;
    try {
      waiter = Thread.ofVirtual().start(() -> {
        try {
          table.lock("a").lock.unlock();
        } catch (RuntimeException e) {
          seen.set(e);
        }
      });
      await().atMost(Duration.ofSeconds(10)).until(() -> vm.lock.hasQueuedThread(waiter));
      // The destroy the waiter queued behind: it ends before the lock is free.
      vm.moveTo(VmState.DESTROYED, "");
      table.remove(vm);
    } finally {
      vm.lock.unlock();
    }
    waiter.join();

    assertThat(seen.get()).isInstanceOf(AgentException.class)
        .hasMessage("VM 'a' not found on this node");
    assertThat(codeOf(seen.get())).isEqualTo(AgentException.Code.NOT_FOUND);
    assertThat(vm.lock.isLocked()).as("the waiter gave the lock back").isFalse();
    assertThat(capacity.allocatedMemoryMib()).isZero();
  }

  @Test
  void aTakenIdIsAlreadyExistsAndCostsNoCapacity() {
    table.admit(vm("a", 256));

    assertThatThrownBy(() -> table.admit(vm("a", 512)))
        .satisfies(e -> assertThat(codeOf(e)).isEqualTo(AgentException.Code.ALREADY_EXISTS))
        .hasMessage("VM 'a' already exists");
    assertThat(capacity.allocatedMemoryMib()).isEqualTo(256);
  }

  @Test
  void aVmThatDoesNotFitIsNotInTheTable() {
    table.admit(vm("a", 768));

    assertThatThrownBy(() -> table.admit(vm("b", 512)))
        .satisfies(e -> assertThat(codeOf(e)).isEqualTo(AgentException.Code.NO_CAPACITY));
    assertThat(table.find("b")).isNull();
    assertThatThrownBy(() -> table.get("b"))
        .satisfies(e -> assertThat(codeOf(e)).isEqualTo(AgentException.Code.NOT_FOUND));
  }
}
