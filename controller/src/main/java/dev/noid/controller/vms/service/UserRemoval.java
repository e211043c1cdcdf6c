package dev.noid.controller.vms.service;

import dev.noid.controller.domain.NoidException;
import dev.noid.controller.vms.CheckpointEntry;
import dev.noid.controller.vms.store.CheckpointTable;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.vms.store.VmTable;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Removes everything a user owns: VMs and checkpoints on the nodes first, then the records.
 * What a node could not remove stays recorded (a VM DESTROYING, a checkpoint DELETING) with its
 * reservation, and the removal fails naming it: forgetting it would leave it running, unseen
 * and unpaid for (issue 19 M5). Repeating the removal carries on from there.
 */
public final class UserRemoval {
  private static final Logger log = LoggerFactory.getLogger(UserRemoval.class);

  private final VmTable vms;
  private final CheckpointTable checkpoints;
  private final Checkpoints checkpointing;
  private final VmTransitions transitions;

  public UserRemoval(VmTable vms, CheckpointTable checkpoints, Checkpoints checkpointing,
      VmTransitions transitions) {
    this.vms = vms;
    this.checkpoints = checkpoints;
    this.checkpointing = checkpointing;
    this.transitions = transitions;
  }

  public void removeOwner(String owner) {
    List<String> left = new ArrayList<>();
    NoidException first = null;
    for (VmEntry e : vms.ownedBy(owner)) {
      try {
        transitions.destroy(e);
      } catch (NoidException ex) {
        log.warn("could not destroy {} of removed user {}: {}", e.name(), owner, ex.getMessage());
        left.add("VM '" + e.name() + "': " + ex.getMessage());
        first = first == null ? ex : first;
      }
    }
    for (CheckpointEntry ck : checkpoints.ownedBy(owner)) {
      try {
        checkpointing.delete(ck.id());
      } catch (NoidException ex) {
        log.warn("could not delete checkpoint {} of removed user {}: {}", ck.id(), owner, ex.getMessage());
        left.add("checkpoint '" + ck.id() + "': " + ex.getMessage());
        first = first == null ? ex : first;
      }
    }
    if (first != null) {
      throw new NoidException(first.code(), "could not remove everything of user '" + owner + "': "
          + String.join("; ", left) + "; what is left stays recorded: remove the user again", first);
    }
  }
}
