package dev.noid.controller.vms.service;

import dev.noid.controller.agents.NodeAgents;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.nodes.NodeEntry;
import dev.noid.controller.nodes.NodeRegistry;
import dev.noid.controller.vms.CheckpointEntry;
import dev.noid.controller.vms.store.CheckpointTable;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Brings a checkpoint's files to the node that restores it (issue 19 M4): one copy per
 * checkpoint and node at a time, which later callers wait for instead of racing it; the copy
 * recorded on the checkpoint's current entry, never a stale one; and a copy that lands after
 * the checkpoint's deletion removed again rather than left orphaned. The source is a ready node
 * that holds the files, not necessarily the one where it was taken (issue 19 M3).
 */
final class CheckpointCopies {
  private static final Logger log = LoggerFactory.getLogger(CheckpointCopies.class);

  private final CheckpointTable checkpoints;
  private final NodeRegistry nodes;
  private final NodeAgents agents;
  private final Map<String, CompletableFuture<CheckpointEntry>> inFlight = new ConcurrentHashMap<>();
  private final Map<String, Integer> waiting = new ConcurrentHashMap<>();

  CheckpointCopies(CheckpointTable checkpoints, NodeRegistry nodes, NodeAgents agents) {
    this.checkpoints = checkpoints;
    this.nodes = nodes;
    this.agents = agents;
  }

  /** The checkpoint, once {@code target} holds its files. */
  CheckpointEntry ensureOn(String checkpointId, String target) {
    CheckpointEntry cur = usable(checkpointId);
    if (cur.nodes().contains(target)) {
      return cur;
    }
    String key = checkpointId + "@" + target;
    CompletableFuture<CheckpointEntry> mine = new CompletableFuture<>();
    CompletableFuture<CheckpointEntry> running = inFlight.putIfAbsent(key, mine);
    if (running != null) {
      return awaitOther(key, running);
    }
    try {
      CheckpointEntry copied = copy(cur, target);
      mine.complete(copied);
      return copied;
    } catch (RuntimeException e) {
      mine.completeExceptionally(e);
      throw e;
    } finally {
      inFlight.remove(key, mine);
    }
  }

  /** Callers waiting for another's copy of {@code checkpointId} to {@code target}. */
  int waitingFor(String checkpointId, String target) {
    return waiting.getOrDefault(checkpointId + "@" + target, 0);
  }

  private CheckpointEntry awaitOther(String key, CompletableFuture<CheckpointEntry> running) {
    waiting.merge(key, 1, Integer::sum);
    try {
      return running.join();
    } catch (CompletionException e) {
      throw e.getCause() instanceof RuntimeException re ? re
          : new NoidException(NoidException.Code.INTERNAL, String.valueOf(e.getCause()), e.getCause());
    } finally {
      waiting.computeIfPresent(key, (k, n) -> n == 1 ? null : n - 1);
    }
  }

  // From the archive when it is there (the nodes read it directly, the controller only asks),
  // else from a ready node that holds it, through the controller.
  private CheckpointEntry copy(CheckpointEntry ck, String target) {
    if (ck.durable()) {
      agents.fetchCheckpoint(target, ck.id());
    } else {
      String source = ck.nodes().stream()
          .filter(n -> nodes.get(n).map(NodeEntry::ready).orElse(false))
          .findFirst()
          .orElseThrow(() -> new NoidException(NoidException.Code.WRONG_STATE, "checkpoint '"
              + ck.id() + "' cannot be copied to " + target + ": no ready node holds it (it is"
              + " on " + String.join(", ", ck.nodes()) + ") and it is not in the checkpoint"
              + " archive"));
      agents.copyCheckpoint(ck.id(), source, target);
    }
    return checkpoints.addCopy(ck.id(), target).orElseThrow(() -> {
      removeOrphan(ck.id(), target);
      return NoidException.notFound("checkpoint '" + ck.id() + "' was deleted while it was copied to "
          + target);
    });
  }

  private void removeOrphan(String checkpointId, String node) {
    try {
      agents.deleteCheckpoint(node, checkpointId);
    } catch (NoidException e) {
      if (e.code() != NoidException.Code.NOT_FOUND) {
        log.warn("checkpoint {} was deleted during its copy to {}, and removing that copy failed: {}",
            checkpointId, node, e.getMessage());
      }
    }
  }

  /** The checkpoint as it is now, if it may be restored from. */
  CheckpointEntry usable(String checkpointId) {
    CheckpointEntry cur = checkpoints.get(checkpointId).orElseThrow(() ->
        NoidException.notFound("checkpoint '" + checkpointId + "' was deleted"));
    if (!cur.ready()) {
      throw new NoidException(NoidException.Code.WRONG_STATE, "checkpoint '" + checkpointId + "' is "
          + cur.state() + (java.util.Objects.toString(cur.statusMessage(), "").isEmpty() ? ""
          : ": " + cur.statusMessage()));
    }
    return cur;
  }
}
