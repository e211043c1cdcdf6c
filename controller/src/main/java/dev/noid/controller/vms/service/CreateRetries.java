package dev.noid.controller.vms.service;

import dev.noid.controller.domain.VmState;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.vms.store.VmTable;
import dev.noid.controller.watch.ChangeFeed;
import java.util.Optional;

/**
 * Answers a CreateVm retried with the request id of one that already made its VM (a client that
 * lost the answer to a failover or a deadline cannot know whether it did): with that VM, as
 * the first create would have, rather than ALREADY_EXISTS. The id is stored in the VM's
 * document, so a controller that reloaded the VMs from the store answers the retry alike.
 * A retry with another spec under the same id still gets the VM that was made: the id, not
 * the spec, says which create it is.
 */
final class CreateRetries {
  /** How long one wait for a change lasts before the VM is looked at again regardless. */
  private static final long RECHECK_MILLIS = 1_000;

  private final VmTable vms;

  CreateRetries(VmTable vms) {
    this.vms = vms;
  }

  /** The owner's VM of that name, if a create with {@code requestId} (not empty) made it. */
  Optional<VmEntry> madeBefore(String owner, String name, String requestId) {
    if (requestId.isEmpty()) {
      return Optional.empty();
    }
    return vms.find(owner, name).filter(e -> e.requestId().equals(requestId));
  }

  /**
   * {@code made} as the first create answers it: as it is now, or with {@code wait}, once it is
   * no longer being created (RUNNING, FAILED, ...), whoever drives it (the first create's
   * thread, or this controller's reconciler after a failover). A VM destroyed meanwhile is
   * answered as last seen, and so is one whose caller's thread is interrupted.
   */
  VmEntry answer(VmEntry made, boolean wait) {
    if (!wait) {
      return made;
    }
    ChangeFeed<VmEntry> feed = vms.changes();
    VmEntry last = made;
    while (true) {
      // The revision before the VM is read: a change after the read has a later one, so next()
      // does not wait through it.
      long seen = feed.revision();
      Optional<VmEntry> now = vms.byId(made.id());
      if (now.isEmpty()) {
        return last;
      }
      last = now.get();
      if (!beingCreated(last.state())) {
        return last;
      }
      try {
        feed.next(seen, 1, RECHECK_MILLIS);
      } catch (ChangeFeed.FellBehind behind) {
        // Only the history is gone; the VM itself is read again.
      } catch (InterruptedException ie) {
        Thread.currentThread().interrupt();
        return last;
      }
    }
  }

  private static boolean beingCreated(VmState s) {
    return s == VmState.PENDING || s == VmState.SCHEDULED || s == VmState.CREATING;
  }
}
