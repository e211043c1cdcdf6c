package dev.noid.controller.agents.grpc;

import com.google.protobuf.ByteString;
import dev.noid.api.agent.v1.CheckpointChunk;
import dev.noid.api.agent.v1.ExportCheckpointRequest;
import dev.noid.api.agent.v1.ListMemoryBasesRequest;
import dev.noid.api.agent.v1.ListMemoryBasesResponse;
import dev.noid.api.agent.v1.ImportCheckpointResponse;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.NoidException.Code;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves a checkpoint's files from the node that holds them to another node, through the
 * controller (which already has mutual TLS to both). The source's export is read only as fast
 * as the target accepts it, so nothing large is buffered here; the target verifies every
 * chunk's and every file's sha256 and keeps nothing if one differs.
 */
final class CheckpointRelay {
  private static final Logger log = LoggerFactory.getLogger(CheckpointRelay.class);
  private final AgentClients agents;

  CheckpointRelay(AgentClients agents) {
    this.agents = agents;
  }

  /**
   * Copies {@code checkpointId} from {@code from} to {@code to}; returns when {@code to} has it.
   * The checkpoint's memory base is left out when {@code to} holds it already; should {@code to}
   * have dropped it since it said so, or the source not prove that it holds it, {@code to}
   * refuses the copy and the copy is made again whole.
   */
  void copy(String checkpointId, String from, String to) {
    ListMemoryBasesResponse held = heldBases(to);
    if (held == null) {
      copy(checkpointId, from, to, List.of(), ByteString.EMPTY, true);
      return;
    }
    try {
      // The target's challenge goes to the source, which proves with it that it holds a base
      // it leaves out; the target refuses the checkpoint otherwise.
      copy(checkpointId, from, to, held.getSha256List(), held.getChallenge(), false);
    } catch (NoidException e) {
      if (held.getSha256Count() == 0 || !e.getMessage().contains("memory base")) {
        throw e;
      }
      log.info("node {} took checkpoint {} without its memory base left out ({}): copying it"
          + " whole", to, checkpointId, e.getMessage());
      copy(checkpointId, from, to, List.of(), ByteString.EMPTY, false);
    }
  }

  // Null for an agent from before memory bases, which does not know the call: a checkpoint
  // with a base must not go there (it would restore without its RAM).
  private ListMemoryBasesResponse heldBases(String node) {
    try {
      return agents.blocking(node, 30).listMemoryBases(ListMemoryBasesRequest.getDefaultInstance());
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == Status.Code.UNIMPLEMENTED) {
        return null;
      }
      throw AgentStatus.toDomain(node, e);
    }
  }

  private void copy(String checkpointId, String from, String to, List<String> omitBases,
      ByteString challenge, boolean targetLacksBases) {
    long start = System.nanoTime();
    CompletableFuture<ImportCheckpointResponse> done = new CompletableFuture<>();
    Semaphore writable = new Semaphore(0);
    ClientCallStreamObserver<CheckpointChunk>[] sink = new ClientCallStreamObserver[1];
    agents.async(to).withDeadlineAfter(30, TimeUnit.MINUTES).importCheckpoint(
        new ClientResponseObserver<CheckpointChunk, ImportCheckpointResponse>() {
          @Override
          public void beforeStart(ClientCallStreamObserver<CheckpointChunk> requests) {
            sink[0] = requests;
            requests.setOnReadyHandler(writable::release);
          }

          @Override
          public void onNext(ImportCheckpointResponse r) {
            done.complete(r);
          }

          @Override
          public void onError(Throwable t) {
            done.completeExceptionally(t);
            writable.release();
          }

          @Override
          public void onCompleted() {
            done.complete(ImportCheckpointResponse.getDefaultInstance());
          }
        });
    long bytes = 0;
    try {
      Iterator<CheckpointChunk> chunks = agents.blocking(from, 1800).exportCheckpoint(
          ExportCheckpointRequest.newBuilder().setCheckpointId(checkpointId)
              .addAllOmitMemoryBases(omitBases).setMemoryBaseChallenge(challenge)
              .setReceiverLacksMemoryBases(targetLacksBases)
              .build());
      boolean first = true;
      while (chunks.hasNext()) {
        CheckpointChunk c = chunks.next();
        if (first && !(c.hasManifest() && c.getManifest().getCheckpoint().getId()
            .equals(checkpointId))) {
          // The target imports whatever id the manifest names: a source must not choose it.
          sink[0].cancel("the source sent another checkpoint", null);
          throw new NoidException(Code.INTERNAL, "node " + from + " answered the export of"
              + " checkpoint " + checkpointId + " with " + (c.hasManifest() ? "checkpoint "
              + c.getManifest().getCheckpoint().getId() : "no manifest") + ": nothing copied");
        }
        first = false;
        while (!sink[0].isReady() && !done.isDone()) {
          writable.tryAcquire(1, TimeUnit.SECONDS);
        }
        if (done.isDone()) {
          break;
        }
        bytes += c.hasChunk() ? c.getChunk().getData().size() : 0;
        sink[0].onNext(c);
      }
      sink[0].onCompleted();
      done.get(30, TimeUnit.MINUTES);
      log.atInfo().addKeyValue("duration_ms", (System.nanoTime() - start) / 1_000_000)
          .log("checkpoint {} copied from {} to {} ({} bytes)", checkpointId, from, to, bytes);
    } catch (StatusRuntimeException e) {
      sink[0].cancel("export failed", e);
      throw AgentStatus.toDomain(from, e);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof StatusRuntimeException sre) {
        if (sre.getStatus().getCode() == Status.Code.ALREADY_EXISTS) {
          // A complete, verified copy is there; one being written is ABORTED instead, which
          // is an error here, not a success (issue 19 M4).
          return;
        }
        if (sre.getStatus().getCode() == Status.Code.DATA_LOSS) {
          throw new NoidException(Code.INTERNAL, "checkpoint " + checkpointId
              + " failed its checksum on the way to " + to + ": " + sre.getStatus().getDescription());
        }
        throw AgentStatus.toDomain(to, sre);
      }
      throw new NoidException(Code.INTERNAL, "copying checkpoint " + checkpointId + " failed: " + cause, cause);
    } catch (java.util.concurrent.TimeoutException e) {
      sink[0].cancel("timed out", e);
      throw new NoidException(Code.TIMEOUT, "copying checkpoint " + checkpointId + " to " + to + " timed out");
    } catch (InterruptedException e) {
      sink[0].cancel("interrupted", e);
      Thread.currentThread().interrupt();
      throw new NoidException(Code.INTERNAL, "interrupted while copying checkpoint " + checkpointId);
    }
  }
}
