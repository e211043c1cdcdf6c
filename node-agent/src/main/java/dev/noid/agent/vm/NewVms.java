package dev.noid.agent.vm;

import dev.noid.agent.vm.AgentException.Code;
import java.io.IOException;
import java.nio.file.Files;

/**
 * The frame every new VM is made in, a create or a clone: admitted to the table, its directory
 * marked incomplete until it runs (a restarted agent removes an incomplete one), and on any
 * failure nothing of it left.
 */
final class NewVms {
  /** What makes the VM run, with its lock held and its directory there. */
  interface Making {
    void run(VmRecord vm) throws IOException;
  }

  private final VmTable table;
  private final VmDisposal disposal;

  NewVms(VmTable table, VmDisposal disposal) {
    this.table = table;
    this.disposal = disposal;
  }

  /** A step of making that the caller's next step builds on. */
  interface Step<T> {
    T run(VmRecord vm) throws IOException;
  }

  /** ALREADY_EXISTS, NO_CAPACITY, or whatever {@code making} fails with; {@code kind} names it. */
  VmStatus make(VmRecord vm, String kind, Making making) {
    return begin(vm, kind, kind, v -> {
      making.run(v);
      Files.delete(v.layout.incompleteMarker());
      return VmStatus.of(v);
    });
  }

  /**
   * The same frame, but the VM stays incomplete (marked {@code marker}) when {@code step}
   * returns: a later call completes it or discards it (an incoming migration).
   */
  <T> T begin(VmRecord vm, String marker, String kind, Step<T> step) {
    table.admit(vm);
    vm.lock.lock();
    try {
      Files.createDirectories(vm.layout.dir());
      AtomicFiles.writeString(vm.layout.incompleteMarker(), marker);
      return step.run(vm);
    } catch (IOException e) {
      disposal.discard(vm);
      throw new AgentException(Code.INTERNAL, kind + " of VM '" + vm.id + "' failed: "
          + e.getMessage(), e);
    } catch (RuntimeException e) {
      disposal.discard(vm);
      throw e;
    } finally {
      vm.lock.unlock();
    }
  }
}
