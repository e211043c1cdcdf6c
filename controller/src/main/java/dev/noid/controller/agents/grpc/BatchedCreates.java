package dev.noid.controller.agents.grpc;

import dev.noid.api.agent.v1.CreateVmRequest;
import dev.noid.api.agent.v1.CreateVmResult;
import dev.noid.api.agent.v1.CreateVmsRequest;
import dev.noid.api.agent.v1.CreateVmsResponse;
import dev.noid.api.agent.v1.VmReport;
import dev.noid.common.grpc.MessageLimits;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Sends creates to each node in batches. While a node has a batch in flight, further creates for
 * it queue, and the next batch carries them all (up to {@link #MAX_PER_CALL}, and up to
 * {@link #MAX_BYTES_PER_CALL} of them). Alone, a create
 * goes at once. Under load, many creates share one round trip and its TLS records instead of each
 * paying for its own, as {@code GroupCommit} does for the store. A batch goes as one message on
 * the node's CreateVmsStream ({@link CreateStreams}), the one create transport: controller and
 * agents ship together (docs/decisions.md), so there is no older agent to fall back to.
 *
 * <p>The caller gets, for each VM, the node's report or the status the node gave that one VM. A
 * create never waits in the queue past its own deadline.
 */
final class BatchedCreates {
  /** The most creates one batch carries; the agent takes up to 1,000. */
  static final int MAX_PER_CALL = 256;
  /** The most bytes of serialized creates one batch carries (issue 19 H2). */
  static final int MAX_BYTES_PER_CALL = MessageLimits.AGENT_BATCH_BYTES;

  private final CreateStreams streams;
  private final Map<String, NodeQueue> queues = new ConcurrentHashMap<>();

  BatchedCreates(AgentClients agents) {
    this.streams = new CreateStreams(agents);
  }

  /** A node's answer for one VM: its report, or the status the node refused it with. */
  record Answer(VmReport report, Status failure) {}

  /** Creates one VM on {@code node}; blocks until the node answered for it. */
  VmReport create(String node, CreateVmRequest request, long deadlineSeconds) {
    Answer a = createAll(node, List.of(request), deadlineSeconds).getFirst();
    if (a.failure() != null) {
      throw a.failure().asRuntimeException();
    }
    return a.report();
  }

  /** Creates several VMs on {@code node}; blocks until the node answered for each, in order. */
  List<Answer> createAll(String node, List<CreateVmRequest> requests, long deadlineSeconds) {
    return queues.computeIfAbsent(node, NodeQueue::new).submit(requests, deadlineSeconds).stream()
        .map(p -> new Answer(p.report, p.failure)).toList();
  }

  /** Creates waiting for a call to {@code node} (not yet sent). */
  int queued(String node) {
    NodeQueue q = queues.get(node);
    if (q == null) {
      return 0;
    }
    q.lock.lock();
    try {
      return q.queue.size();
    } finally {
      q.lock.unlock();
    }
  }

  private static final class Pending {
    final CreateVmRequest request;
    final long deadlineNanos;
    final long deadlineSeconds;
    final int bytes;
    final Condition wake;
    boolean taken;
    boolean done;
    VmReport report;
    Status failure;

    Pending(CreateVmRequest request, long deadlineSeconds, Condition wake) {
      this.request = request;
      this.bytes = request.getSerializedSize();
      this.wake = wake;
      this.deadlineSeconds = deadlineSeconds;
      this.deadlineNanos = System.nanoTime() + TimeUnit.SECONDS.toNanos(deadlineSeconds);
    }
  }

  private final class NodeQueue {
    private final String node;
    private final ReentrantLock lock = new ReentrantLock();
    private final List<Pending> queue = new ArrayList<>();
    private boolean sending;

    NodeQueue(String node) {
      this.node = node;
    }

    /**
     * Queues the create and waits until it is answered. The first waiter that finds no call in
     * flight sends what is queued, its own create among it or not, so every create is sent by
     * one of the threads waiting for it.
     */
    List<Pending> submit(List<CreateVmRequest> requests, long deadlineSeconds) {
      // One waiter for all of them: they share the condition it waits on.
      Condition wake = lock.newCondition();
      List<Pending> mine = new ArrayList<>(requests.size());
      for (CreateVmRequest r : requests) {
        mine.add(new Pending(r, deadlineSeconds, wake));
      }
      lock.lock();
      try {
        queue.addAll(mine);
      } finally {
        lock.unlock();
      }
      boolean interrupted = false;
      while (true) {
        List<Pending> batch;
        lock.lock();
        try {
          Pending open;
          while ((open = firstOpen(mine)) != null && sending) {
            long left = open.deadlineNanos - System.nanoTime();
            if (left <= 0 && !open.taken) {
              // Still queued past its deadline: every create of mine not yet taken is too.
              for (Pending p : mine) {
                if (!p.done && !p.taken) {
                  queue.remove(p);
                  expire(p);
                }
              }
              continue;
            }
            try {
              // Once taken into a call, that call's own deadline bounds the wait.
              wake.awaitNanos(open.taken ? TimeUnit.SECONDS.toNanos(1) : left);
            } catch (InterruptedException e) {
              // The creates go on: they are the node's now.
              interrupted = true;
            }
          }
          if (open == null) {
            if (interrupted) {
              Thread.currentThread().interrupt();
            }
            return mine;
          }
          batch = new ArrayList<>();
          long now = System.nanoTime();
          long bytes = 0;
          while (!queue.isEmpty() && batch.size() < MAX_PER_CALL) {
            Pending next = queue.getFirst();
            if (next.deadlineNanos - now <= 0) {
              queue.removeFirst();
              expire(next);
              next.wake.signal();
              continue;
            }
            // Bounded by bytes too, so that the batch fits the agent's inbound limit whatever
            // the VMs' labels; one create larger than the bound still goes, alone.
            bytes += next.bytes;
            if (!batch.isEmpty() && bytes > MAX_BYTES_PER_CALL) {
              break;
            }
            queue.removeFirst();
            next.taken = true;
            batch.add(next);
          }
          if (batch.isEmpty()) {
            continue;
          }
          sending = true;
        } finally {
          lock.unlock();
        }
        send(batch, batch.stream().mapToLong(b -> b.deadlineNanos).max().orElseThrow());
      }
    }

    private static Pending firstOpen(List<Pending> mine) {
      for (Pending p : mine) {
        if (!p.done) {
          return p;
        }
      }
      return null;
    }

    private void expire(Pending p) {
      p.failure = Status.DEADLINE_EXCEEDED.withDescription("waited " + p.deadlineSeconds
          + " s behind earlier creates on node " + node + " without being sent");
      p.done = true;
    }

    /** Sends {@code batch} in one message, to be answered by {@code deadline} (nanoTime). */
    private void send(List<Pending> batch, long deadline) {
      CreateVmsResponse answer = null;
      Status failed = null;
      try {
        answer = streams.send(node, CreateVmsRequest.newBuilder()
            .addAllCreates(batch.stream().map(b -> b.request).toList()).build(), deadline);
        if (answer.getResultsCount() != batch.size()) {
          failed = Status.INTERNAL.withDescription("node " + node + " answered " + answer.getResultsCount()
              + " results for " + batch.size() + " creates");
        }
      } catch (StatusRuntimeException e) {
        failed = e.getStatus();
      } catch (RuntimeException e) {
        failed = Status.fromThrowable(e);
      }
      lock.lock();
      try {
        for (int i = 0; i < batch.size(); i++) {
          Pending b = batch.get(i);
          if (failed != null) {
            b.failure = failed;
          } else {
            CreateVmResult r = answer.getResults(i);
            if (r.hasVm()) {
              b.report = r.getVm();
            } else {
              b.failure = Status.fromCodeValue((int) r.getError().getCode())
                  .withDescription(r.getError().getMessage());
            }
          }
          b.done = true;
          b.wake.signal();
        }
        sending = false;
        // The oldest create still queued sends the next call.
        if (!queue.isEmpty()) {
          queue.getFirst().wake.signal();
        }
      } finally {
        lock.unlock();
      }
    }
  }
}
