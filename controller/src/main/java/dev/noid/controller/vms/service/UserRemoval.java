package dev.noid.controller.vms.service;

import dev.noid.controller.agents.NodeAgents;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.vms.CheckpointEntry;
import dev.noid.controller.vms.store.CheckpointTable;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.vms.store.VmTable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Removes everything a user owns: VMs and checkpoints on the nodes first, then the records. */
public final class UserRemoval {
  private static final Logger log = LoggerFactory.getLogger(UserRemoval.class);

  private final VmTable vms;
  private final CheckpointTable checkpoints;
  private final NodeAgents agents;
  private final VmTransitions transitions;

  public UserRemoval(VmTable vms, CheckpointTable checkpoints, NodeAgents agents,
      VmTransitions transitions) {
    this.vms = vms;
    this.checkpoints = checkpoints;
    this.agents = agents;
    this.transitions = transitions;
  }

  public void removeOwner(String owner) {
    for (VmEntry e : vms.ownedBy(owner)) {
      try {
        transitions.destroy(e);
      } catch (NoidException ex) {
        log.warn("could not destroy {} of removed user {}: {}", e.name(), owner, ex.getMessage());
      }
    }
    for (CheckpointEntry ck : checkpoints.ownedBy(owner)) {
      for (String n : ck.nodes()) {
        try {
          agents.deleteCheckpoint(n, ck.id());
        } catch (RuntimeException ex) {
          log.warn("could not delete checkpoint {} of removed user {} on {}: {}", ck.id(), owner, n, ex.toString());
        }
      }
    }
    vms.forgetOwner(owner);
    checkpoints.forgetOwner(owner);
  }
}
