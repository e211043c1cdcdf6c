package dev.noid.controller.agents.grpc;

import dev.noid.api.agent.v1.AgentGrpc;
import dev.noid.api.agent.v1.CreateVmsRequest;
import dev.noid.api.agent.v1.CreateVmsResponse;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One CreateVmsStream per node, opened when a batch first needs it and again after it ended.
 * A batch sent on it is answered exactly as a unary call would be: the response, or the
 * status the call would have failed with. A batch not answered in time fails with
 * DEADLINE_EXCEEDED and the stream is cancelled, as a call past its deadline is, so that the
 * node's next batch does not queue behind the stuck one.
 */
final class CreateStreams {
  private final AgentClients agents;
  private final Map<String, NodeStream> streams = new ConcurrentHashMap<>();

  CreateStreams(AgentClients agents) {
    this.agents = agents;
  }

  /**
   * Sends {@code request} on the node's stream and waits for its answer until
   * {@code deadlineNanos} ({@link System#nanoTime()}); throws what a unary call would have.
   */
  CreateVmsResponse send(String node, CreateVmsRequest request, long deadlineNanos) {
    ManagedChannel channel = agents.channel(node);
    NodeStream stream = streams.compute(node, (k, open) ->
        open != null && open.channel == channel && open.ended == null ? open : new NodeStream(node, channel));
    return stream.exchange(request, deadlineNanos);
  }

  private static final class NodeStream implements ClientResponseObserver<CreateVmsRequest, CreateVmsResponse> {
    final String node;
    final ManagedChannel channel;
    private final Map<Long, CompletableFuture<CreateVmsResponse>> waiting = new ConcurrentHashMap<>();
    private ClientCallStreamObserver<CreateVmsRequest> requests;
    private long lastBatch;
    volatile Status ended;

    NodeStream(String node, ManagedChannel channel) {
      this.node = node;
      this.channel = channel;
      // Callbacks only complete a future: run them on the transport's thread, not a pool's.
      AgentGrpc.newStub(channel).withExecutor(Runnable::run).createVmsStream(this);
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<CreateVmsRequest> requests) {
      this.requests = requests;
    }

    CreateVmsResponse exchange(CreateVmsRequest request, long deadlineNanos) {
      CompletableFuture<CreateVmsResponse> answer = new CompletableFuture<>();
      long batch;
      synchronized (this) {
        if (ended != null) {
          throw ended.asRuntimeException();
        }
        batch = ++lastBatch;
        waiting.put(batch, answer);
        requests.onNext(request.toBuilder().setBatch(batch).build());
      }
      try {
        return answer.get(Math.max(0, deadlineNanos - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (TimeoutException e) {
        Status late = Status.DEADLINE_EXCEEDED.withDescription(
            "node " + node + " did not answer a batch of creates in time");
        cancel(late);
        throw late.asRuntimeException();
      } catch (ExecutionException e) {
        throw (StatusRuntimeException) e.getCause();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw Status.CANCELLED.withDescription("interrupted while waiting for node " + node)
            .asRuntimeException();
      } finally {
        waiting.remove(batch);
      }
    }

    private void cancel(Status why) {
      synchronized (this) {
        if (ended == null) {
          // Ended first: the cancel's own CANCELLED, reported back at once, is not the reason.
          ended = why;
          requests.cancel(why.getDescription(), null);
        }
      }
      failWaiting();
    }

    @Override
    public void onNext(CreateVmsResponse response) {
      CompletableFuture<CreateVmsResponse> answer = waiting.get(response.getBatch());
      if (answer != null) {
        answer.complete(response);
      }
    }

    @Override
    public void onError(Throwable t) {
      end(Status.fromThrowable(t));
    }

    @Override
    public void onCompleted() {
      end(Status.UNAVAILABLE.withDescription("node " + node + " closed its create stream"));
    }

    private void end(Status why) {
      synchronized (this) {
        if (ended == null) {
          ended = why;
        }
      }
      failWaiting();
    }

    private void failWaiting() {
      for (CompletableFuture<CreateVmsResponse> answer : waiting.values()) {
        answer.completeExceptionally(ended.asRuntimeException());
      }
    }
  }
}
