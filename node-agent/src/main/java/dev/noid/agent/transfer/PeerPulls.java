package dev.noid.agent.transfer;

import dev.noid.agent.checkpoint.CheckpointImport;
import dev.noid.agent.checkpoint.CheckpointStore;
import dev.noid.agent.checkpoint.CheckpointTransfer;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.api.agent.v1.AgentPeerGrpc;
import dev.noid.api.agent.v1.CheckpointChunk;
import dev.noid.api.agent.v1.CheckpointInfo;
import dev.noid.api.agent.v1.SendCheckpointRequest;
import dev.noid.api.agent.v1.TransferGrant;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.Iterator;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The receiving side of a direct transfer (issue 24): this node asks the source node for the
 * checkpoint, with the controller's grant, and imports what comes, verifying every chunk. When
 * the stream is cut (the link, the source, a deadline), what arrived stays, kept for
 * {@link CheckpointTransfer#keepsCutImportsFor()}; the next pull of the same checkpoint, with a
 * new grant, asks the source for the rest only.
 */
public final class PeerPulls implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(PeerPulls.class);
  private static final long DEADLINE_MINUTES = 30;
  // What the source says when it will not send: the same grant or request will not do better.
  private static final Set<Status.Code> REFUSALS = Set.of(Status.Code.PERMISSION_DENIED,
      Status.Code.UNAUTHENTICATED, Status.Code.NOT_FOUND, Status.Code.INVALID_ARGUMENT,
      Status.Code.FAILED_PRECONDITION, Status.Code.DATA_LOSS, Status.Code.UNIMPLEMENTED,
      Status.Code.RESOURCE_EXHAUSTED);

  /** What one pull did. */
  public record Pulled(CheckpointInfo checkpoint, long bytesReceived, long resumedFromBytes) {}

  private final CheckpointTransfer transfer;
  private final PeerChannels channels;
  private final Set<String> running = ConcurrentHashMap.newKeySet();
  private final java.util.concurrent.ScheduledExecutorService sweeper = java.util.concurrent
      .Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("transfer-sweeper")
          .daemon().factory());

  public PeerPulls(CheckpointTransfer transfer, PeerChannels channels) {
    this.transfer = transfer;
    this.channels = channels;
    // What a cut transfer left is not kept past its time just because no pull came back.
    sweeper.scheduleWithFixedDelay(transfer::expireParked, 1, 1, TimeUnit.MINUTES);
  }

  public Pulled pull(String checkpointId, String sourceNode, String sourceAddress,
      TransferGrant grant) {
    CheckpointStore.checkId(checkpointId);
    require("source_node", sourceNode);
    require("source_address", sourceAddress);
    if (grant.getBody().isEmpty() || grant.getSignature().isEmpty()) {
      throw new AgentException(Code.INVALID_ARGUMENT, "grant is required: the controller signs"
          + " one for each transfer");
    }
    if (!running.add(checkpointId)) {
      throw new AgentException(Code.BUSY, "checkpoint '" + checkpointId + "' is being pulled"
          + " already");
    }
    try {
      if (transfer.holds(checkpointId)) {
        // A complete, verified copy is here already (an earlier try that ended after the
        // controller stopped waiting, or a second restore from it): nothing to move.
        return new Pulled(transfer.info(checkpointId), 0, 0);
      }
      return pullOnce(checkpointId, sourceNode, sourceAddress, grant);
    } catch (AgentException e) {
      if (e.code() != Code.ALREADY_EXISTS) {
        throw e;
      }
      // Another import published it meanwhile, or its directory is still being removed: only
      // a complete copy here is a success.
      if (transfer.holds(checkpointId)) {
        return new Pulled(transfer.info(checkpointId), 0, 0);
      }
      throw new AgentException(Code.BUSY, "checkpoint '" + checkpointId + "' is being written"
          + " or removed on this node; try again", e);
    } finally {
      running.remove(checkpointId);
    }
  }

  private Pulled pullOnce(String id, String source, String address, TransferGrant grant) {
    CheckpointImport work = transfer.resumeOrReceive(id);
    long resumedFrom = work.bytesHeld();
    SendCheckpointRequest request = SendCheckpointRequest.newBuilder().setGrant(grant)
        .addAllOmitMemoryBases(transfer.memoryBases())
        .setMemoryBaseChallenge(transfer.memoryBaseChallenge())
        .addAllResume(work.resumePoints()).build();
    Context.CancellableContext call = Context.current().withCancellation();
    try {
      Iterator<CheckpointChunk> stream = call.call(() -> AgentPeerGrpc.newBlockingStub(
              channels.to(source, address)).withDeadlineAfter(DEADLINE_MINUTES, TimeUnit.MINUTES)
          .sendCheckpoint(request));
      try (ChunkPipe pipe = new ChunkPipe(stream)) {
        ChunkPipe.Hashed next;
        while ((next = pipe.take()) != null) {
          work.accept(next.chunk(), next.dataSha256()); // a chunk that does not verify ends it
        }
      }
    } catch (StatusRuntimeException e) {
      throw cut(id, source, work, e);
    } catch (Exception e) {
      work.abort();
      throw e instanceof RuntimeException re ? re : new AgentException(Code.INTERNAL,
          "pulling checkpoint '" + id + "' from " + source + ": " + e, e);
    } finally {
      call.cancel(null); // ends the stream, and the pipe's reader with it, if it is still open
    }
    CheckpointInfo info = work.finish();
    long received = work.bytesHeld() - resumedFrom;
    log.atInfo().addKeyValue("vm_name", info.getVmId()).log("checkpoint {} pulled from {}: {}"
        + " bytes received{}", id, source, received,
        resumedFrom > 0 ? ", carrying on from " + resumedFrom + " bytes kept" : "");
    return new Pulled(info, received, resumedFrom);
  }

  private AgentException cut(String id, String source, CheckpointImport work,
      StatusRuntimeException e) {
    Status status = e.getStatus();
    String why = status.getCode() + (status.getDescription() == null ? ""
        : ": " + status.getDescription());
    if (REFUSALS.contains(status.getCode())) {
      work.abort();
      Code code = switch (status.getCode()) {
        case PERMISSION_DENIED, UNAUTHENTICATED -> Code.PERMISSION_DENIED;
        case NOT_FOUND -> Code.NOT_FOUND;
        case DATA_LOSS -> Code.CORRUPT;
        case UNIMPLEMENTED -> Code.PEER_UNSUPPORTED; // a source from before direct transfers
        case RESOURCE_EXHAUSTED -> Code.NO_CAPACITY;
        default -> Code.WRONG_STATE;
      };
      return new AgentException(code, "node " + source + " would not send checkpoint '" + id
          + "': " + why, e);
    }
    work.suspend();
    transfer.park(id, work);
    return new AgentException(Code.INTERRUPTED, "the transfer of checkpoint '" + id + "' from"
        + " node " + source + " was cut (" + why + "); " + work.bytesHeld() + " bytes arrived"
        + " verified and are kept for " + CheckpointTransfer.keepsCutImportsFor().toMinutes() + " minutes:"
        + " asked again, it carries on from there", e);
  }

  private static void require(String field, String value) {
    if (value == null || value.isBlank()) {
      throw new AgentException(Code.INVALID_ARGUMENT, field + " is required");
    }
  }

  @Override
  public void close() {
    sweeper.shutdownNow();
    transfer.dropParked();
    // The channels are shared (images come over them too): their owner closes them.
  }
}
