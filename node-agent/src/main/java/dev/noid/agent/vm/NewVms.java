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

  /** ALREADY_EXISTS, NO_CAPACITY, or whatever {@code making} fails with; {@code kind} names it. */
  VmStatus make(VmRecord vm, String kind, Making making) {
    table.admit(vm);
    vm.lock.lock();
    try {
      Files.createDirectories(vm.layout.dir());
      AtomicFiles.writeString(vm.layout.incompleteMarker(), kind);
      making.run(vm);
      Files.delete(vm.layout.incompleteMarker());
      return VmStatus.of(vm);
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
