package dev.noid.controller.vms;

import dev.noid.controller.domain.NoidException;
import dev.noid.controller.watch.Watchable;
import java.util.List;
import java.util.Optional;

/**
 * What the VM reads (get, list, watch) need: the leader's own table, or a follower's replica
 * of it (issue 22).
 */
public interface VmView extends Watchable<VmEntry> {
  Optional<VmEntry> find(String owner, String name);

  /** The owner's VMs by name. */
  List<VmEntry> ownedBy(String owner);

  /** The owner's VM; another user's VM is simply not there for them: NOT_FOUND. */
  default VmEntry require(String owner, String name) {
    return find(owner, name)
        .orElseThrow(() -> NoidException.notFound("VM '" + name + "' not found"));
  }

  /** Refuses reads when this view cannot vouch for being current (a follower cut off). */
  default void requireCurrent() {
  }
}
