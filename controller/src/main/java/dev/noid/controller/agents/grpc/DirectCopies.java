package dev.noid.controller.agents.grpc;

import dev.noid.api.agent.v1.PullCheckpointRequest;
import dev.noid.api.agent.v1.PullCheckpointResponse;
import dev.noid.controller.domain.NoidException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Copies a checkpoint straight from the node that holds it to the node that needs it (issue
 * 24): the controller signs a grant and asks the target to pull; the data never passes
 * through here. A pull that was cut part way, or that waited behind another pull of the same
 * checkpoint (both ABORTED), is asked again after a pause, with a new grant, and the target
 * carries on from what it kept; a target that ends up holding the checkpoint is a success
 * however it got there. When either node predates direct transfers (UNIMPLEMENTED), or the
 * source refuses this controller's grant (PERMISSION_DENIED: a version whose grants differ),
 * the checkpoint goes through the controller, as before.
 */
final class DirectCopies {
  private static final Logger log = LoggerFactory.getLogger(DirectCopies.class);
  static final int ATTEMPTS = 3;
  private final AgentClients agents;
  private final TransferGrants grants;
  private final CheckpointRelay relay;
  private final Duration firstPause;

  DirectCopies(AgentClients agents, TransferGrants grants, CheckpointRelay relay) {
    this(agents, grants, relay, Duration.ofSeconds(1));
  }

  /** {@code firstPause}: the wait before the second try, doubled before each later one. */
  DirectCopies(AgentClients agents, TransferGrants grants, CheckpointRelay relay,
      Duration firstPause) {
    this.agents = agents;
    this.grants = grants;
    this.relay = relay;
    this.firstPause = firstPause;
  }

  void copy(String checkpointId, String from, String to) {
    long start = System.nanoTime();
    for (int attempt = 1; ; attempt++) {
      PullCheckpointRequest request = PullCheckpointRequest.newBuilder()
          .setCheckpointId(checkpointId).setSourceNode(from)
          .setSourceAddress(agents.address(from))
          .setGrant(grants.sign(checkpointId, from, to)).build();
      try {
        PullCheckpointResponse r = agents.blocking(to, 1800).pullCheckpoint(request);
        log.atInfo().addKeyValue("duration_ms", (System.nanoTime() - start) / 1_000_000)
            .log("checkpoint {} pulled by {} from {}: {} bytes{}", checkpointId, to, from,
                r.getBytesReceived(), r.getResumedFromBytes() > 0
                    ? " after " + r.getResumedFromBytes() + " bytes kept from a cut try" : "");
        return;
      } catch (StatusRuntimeException e) {
        Status.Code code = e.getStatus().getCode();
        if (code == Status.Code.ALREADY_EXISTS) {
          return; // a complete, verified copy is there (another import finished first)
        }
        if (code == Status.Code.UNIMPLEMENTED || code == Status.Code.PERMISSION_DENIED) {
          // A node from before direct transfers, or whose grant check differs from this
          // controller's (a version in between): the controller may always copy it itself.
          log.warn("checkpoint {} from {} to {} goes through the controller: {}", checkpointId,
              from, to, e.getStatus().getDescription());
          relay.copy(checkpointId, from, to);
          return;
        }
        if (code != Status.Code.ABORTED || attempt == ATTEMPTS) {
          NoidException why = AgentStatus.toDomain(to, e);
          throw new NoidException(why.code(), "copying checkpoint " + checkpointId + " from "
              + from + " to " + to + (attempt > 1 ? " (" + attempt + " tries)" : "") + ": "
              + why.getMessage(), e);
        }
        Duration pause = firstPause.multipliedBy(1L << (attempt - 1));
        log.warn("checkpoint {} from {} to {}: try {} of {} did not finish, asking again in {}"
            + " ms: {}", checkpointId, from, to, attempt, ATTEMPTS, pause.toMillis(),
            e.getStatus().getDescription());
        pause(pause);
      }
    }
  }

  private static void pause(Duration d) {
    try {
      Thread.sleep(d);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new NoidException(NoidException.Code.INTERNAL, "interrupted while waiting to copy"
          + " a checkpoint again");
    }
  }
}
