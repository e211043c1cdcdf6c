package dev.noid.controller.agents;

import dev.noid.agent.v1.CreateVmRequest;
import dev.noid.agent.v1.CreateVmResult;
import dev.noid.agent.v1.CreateVmsRequest;
import dev.noid.agent.v1.CreateVmsResponse;
import dev.noid.agent.v1.VmReport;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Sends creates to each node in batches. While a node has a batch in flight, further creates for
 * it queue, and the next batch carries them all (up to {@link #MAX_PER_CALL}). Alone, a create
 * goes at once. Under load, many creates share one round trip and its TLS records instead of each
 * paying for its own, as {@code GroupCommit} does for the store. A batch goes as one message on
 * the node's CreateVmsStream ({@link CreateStreams}), which costs less than a call of its own.
 *
 * <p>The caller sees exactly what a CreateVm call would have given it: the VM's report, or a
 * {@link StatusRuntimeException} with the status the agent gave that one VM. A create never
 * waits in the queue past its own deadline. A node without CreateVmsStream gets CreateVms calls,
 * and one without CreateVms either (UNIMPLEMENTED: an agent from before them) plain CreateVm calls,
 * from then on.
 */
public final class BatchedCreates {
  /** The most creates one call carries; the agent takes up to 1,000. */
  static final int MAX_PER_CALL = 256;

  private final AgentClients agents;
  private final CreateStreams streams;
  private final Map<String, NodeQueue> queues = new ConcurrentHashMap<>();
  // The fallbacks, per node, for agents from before each: no CreateVmsStream (CreateVms calls),
  // and no CreateVms either (CreateVm calls).
  private final Set<String> unstreamed = ConcurrentHashMap.newKeySet();
  private final Set<String> unbatched = ConcurrentHashMap.newKeySet();

  public BatchedCreates(AgentClients agents) {
    this.agents = agents;
    this.streams = new CreateStreams(agents);
  }

  /** A node's answer for one VM: its report, or the failure CreateVm would have thrown. */
  public record Answer(VmReport report, StatusRuntimeException failure) {}

  /** Creates one VM on {@code node}; blocks until the node answered for it. */
  public VmReport create(String node, CreateVmRequest request, long deadlineSeconds) {
    Answer a = createAll(node, List.of(request), deadlineSeconds).getFirst();
    if (a.failure() != null) {
      throw a.failure();
    }
    return a.report();
  }

  /** Creates several VMs on {@code node}; blocks until the node answered for each, in order. */
  public List<Answer> createAll(String node, List<CreateVmRequest> requests, long deadlineSeconds) {
    List<Pending> sent = unbatched.contains(node) ? List.of()
        : queues.computeIfAbsent(node, NodeQueue::new).submit(requests, deadlineSeconds);
    if (!sent.isEmpty() && sent.stream().noneMatch(p -> p.sendAlone)) {
      return sent.stream().map(BatchedCreates::answer).toList();
    }
    List<java.util.concurrent.Future<Answer>> answers = new ArrayList<>(requests.size());
    // Creates the node could not take in one call go as CreateVm calls, all at once, as
    // concurrent single creates would.
    try (var alone = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
      for (int i = 0; i < requests.size(); i++) {
        Pending p = sent.isEmpty() ? null : sent.get(i);
        if (p != null && !p.sendAlone) {
          answers.add(java.util.concurrent.CompletableFuture.completedFuture(answer(p)));
          continue;
        }
        CreateVmRequest request = requests.get(i);
        answers.add(alone.submit(() -> {
          try {
            return new Answer(agents.blocking(node, deadlineSeconds).createVm(request).getVm(), null);
          } catch (StatusRuntimeException e) {
            return new Answer(null, e);
          }
        }));
      }
    }
    return answers.stream().map(java.util.concurrent.Future::resultNow).toList();
  }

  private static Answer answer(Pending p) {
    return new Answer(p.report, p.failure == null ? null : p.failure.asRuntimeException());
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
    final Condition wake;
    boolean taken;
    boolean done;
    boolean sendAlone;
    VmReport report;
    Status failure;

    Pending(CreateVmRequest request, long deadlineSeconds, Condition wake) {
      this.request = request;
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
              // The creates go on, as they would with CreateVm calls in flight.
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
          while (!queue.isEmpty() && batch.size() < MAX_PER_CALL) {
            Pending next = queue.removeFirst();
            if (next.deadlineNanos - now <= 0) {
              expire(next);
              next.wake.signal();
            } else {
              next.taken = true;
              batch.add(next);
            }
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

    private CreateVmsResponse call(CreateVmsRequest request, long deadline) {
      if (!unstreamed.contains(node)) {
        try {
          return streams.send(node, request, deadline);
        } catch (StatusRuntimeException e) {
          if (e.getStatus().getCode() != Status.Code.UNIMPLEMENTED) {
            throw e;
          }
          // An agent from before CreateVmsStream, which created nothing: CreateVms calls.
          unstreamed.add(node);
        }
      }
      return agents.blocking(node, deadline - System.nanoTime(), TimeUnit.NANOSECONDS).createVms(request);
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

    /** Sends {@code batch} in one message or call, to be answered by {@code deadline} (nanoTime). */
    private void send(List<Pending> batch, long deadline) {
      CreateVmsResponse answer = null;
      Status failed = null;
      try {
        answer = call(CreateVmsRequest.newBuilder()
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
      boolean alone = failed != null && failed.getCode() == Status.Code.UNIMPLEMENTED;
      if (alone) {
        unbatched.add(node);
      }
      lock.lock();
      try {
        for (int i = 0; i < batch.size(); i++) {
          Pending b = batch.get(i);
          if (alone) {
            b.sendAlone = true;
          } else if (failed != null) {
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
