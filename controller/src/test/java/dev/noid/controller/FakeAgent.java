package dev.noid.controller;

import dev.noid.agent.v1.AgentGrpc;
import dev.noid.agent.v1.AgentVmState;
import dev.noid.agent.v1.CallError;
import dev.noid.agent.v1.CreateVmRequest;
import dev.noid.agent.v1.CreateVmResponse;
import dev.noid.agent.v1.CreateVmResult;
import dev.noid.agent.v1.CreateVmsRequest;
import dev.noid.agent.v1.CreateVmsResponse;
import dev.noid.agent.v1.DestroyVmRequest;
import dev.noid.agent.v1.DestroyVmResponse;
import dev.noid.agent.v1.VmReport;
import dev.noid.common.grpc.UnaryPerMessage;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;

/**
 * A node agent for controller tests that need many nodes or a misbehaving one, where booting
 * real guests would prove nothing more. It keeps the agent's contract: a VM it created exists
 * until destroyed, a duplicate id is ALREADY_EXISTS, an unknown id NOT_FOUND, and it refuses
 * memory beyond its own capacity like the real agent does.
 */
public final class FakeAgent extends AgentGrpc.AgentImplBase {
  private final long memoryMib;
  private final Map<String, VmReport> vms = new ConcurrentHashMap<>();
  private volatile CountDownLatch hang;
  private volatile long heldMib;
  private volatile boolean batchCreates = true;
  private volatile boolean createStream = true;
  private final java.util.concurrent.atomic.AtomicReference<Status> failNext = new java.util.concurrent.atomic.AtomicReference<>();
  private final java.util.concurrent.atomic.AtomicInteger streamsOpened = new java.util.concurrent.atomic.AtomicInteger();
  private final java.util.concurrent.atomic.AtomicInteger streamedBatches = new java.util.concurrent.atomic.AtomicInteger();
  private volatile CountDownLatch gate;
  private final java.util.concurrent.atomic.AtomicInteger atGate = new java.util.concurrent.atomic.AtomicInteger();
  private final java.util.concurrent.atomic.AtomicInteger batchCalls = new java.util.concurrent.atomic.AtomicInteger();
  private final java.util.concurrent.atomic.AtomicInteger batchedCreates = new java.util.concurrent.atomic.AtomicInteger();

  public FakeAgent(long memoryMib) {
    this.memoryMib = memoryMib;
  }

  /** From now on, create calls never answer until {@link #release()}. */
  public void hangCreates() {
    hang = new CountDownLatch(1);
  }

  /** From now on, create calls wait (then carry on normally) until {@link #openGate()}. */
  public void closeGate() {
    gate = new CountDownLatch(1);
  }

  public void openGate() {
    CountDownLatch g = gate;
    gate = null;
    if (g != null) {
      g.countDown();
    }
  }

  /** Create calls waiting at the gate now. */
  public int atGate() {
    return atGate.get();
  }

  public void release() {
    CountDownLatch h = hang;
    hang = null;
    if (h != null) {
      h.countDown();
    }
  }

  /**
   * Memory the agent uses for itself, as a golden-snapshot build's throwaway VM does: the
   * controller's ledger does not know it, the agent's capacity check does.
   */
  public void hold(long mib) {
    heldMib = mib;
  }

  public Map<String, VmReport> vms() {
    return vms;
  }

  /**
   * From now on, CreateVms and CreateVmsStream are UNIMPLEMENTED, as on an agent from before
   * either existed.
   */
  public void withoutBatchCreates() {
    batchCreates = false;
  }

  /** From now on, CreateVmsStream is UNIMPLEMENTED, as on an agent that has only CreateVms. */
  public void withoutCreateStream() {
    createStream = false;
  }

  /** The next CreateVms batch fails as a whole with {@code status}, creating nothing. */
  public void failNextBatch(Status status) {
    failNext.set(status);
  }

  /** CreateVmsStream calls opened so far. */
  public int streamsOpened() {
    return streamsOpened.get();
  }

  /** Batches that came over CreateVmsStream (each also counts as a CreateVms call). */
  public int streamedBatches() {
    return streamedBatches.get();
  }

  /** Each batch exactly as {@link #createVms} answers it, on one stream. */
  @Override
  public StreamObserver<CreateVmsRequest> createVmsStream(StreamObserver<CreateVmsResponse> out) {
    if (!batchCreates || !createStream) {
      return super.createVmsStream(out);
    }
    streamsOpened.incrementAndGet();
    return UnaryPerMessage.serve(out, (request, answer) -> {
      streamedBatches.incrementAndGet();
      createVms(request, answer);
    }, (request, answer) -> answer.toBuilder().setBatch(request.getBatch()).build());
  }

  /** CreateVms calls answered so far, and the creates they carried. */
  public int batchCalls() {
    return batchCalls.get();
  }

  public int batchedCreates() {
    return batchedCreates.get();
  }

  /** Each create exactly as {@link #createVm} would answer it alone, all at once. */
  @Override
  public void createVms(CreateVmsRequest request, StreamObserver<CreateVmsResponse> out) {
    if (!batchCreates) {
      super.createVms(request, out);
      return;
    }
    batchCalls.incrementAndGet();
    batchedCreates.addAndGet(request.getCreatesCount());
    Status failure = failNext.getAndSet(null);
    if (failure != null) {
      out.onError(failure.asRuntimeException());
      return;
    }
    CountDownLatch g = gate;
    if (g != null) {
      atGate.incrementAndGet();
      try {
        g.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        atGate.decrementAndGet();
      }
    }
    java.util.List<java.util.concurrent.Future<CreateVmResult>> results = new java.util.ArrayList<>();
    try (var each = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
      for (CreateVmRequest r : request.getCreatesList()) {
        results.add(each.submit(() -> {
          java.util.concurrent.CompletableFuture<CreateVmResult> one = new java.util.concurrent.CompletableFuture<>();
          createVm(r, new StreamObserver<>() {
            @Override
            public void onNext(CreateVmResponse v) {
              one.complete(CreateVmResult.newBuilder().setVm(v.getVm()).build());
            }

            @Override
            public void onError(Throwable t) {
              Status s = Status.fromThrowable(t);
              one.complete(CreateVmResult.newBuilder().setError(CallError.newBuilder()
                  .setCode(s.getCode().value()).setMessage(String.valueOf(s.getDescription()))).build());
            }

            @Override
            public void onCompleted() {}
          });
          return one.join();
        }));
      }
    }
    CreateVmsResponse.Builder answer = CreateVmsResponse.newBuilder();
    results.forEach(f -> answer.addResults(f.resultNow()));
    out.onNext(answer.build());
    out.onCompleted();
  }

  @Override
  public void createVm(CreateVmRequest request, StreamObserver<CreateVmResponse> out) {
    CountDownLatch h = hang;
    if (h != null) {
      try {
        h.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      out.onError(Status.CANCELLED.withDescription("released").asRuntimeException());
      return;
    }
    String id = request.getSpec().getId();
    synchronized (vms) {
      long used = vms.values().stream().mapToLong(v -> v.getSpec().getMemMib()).sum();
      if (used + heldMib + request.getSpec().getMemMib() > memoryMib) {
        out.onError(Status.RESOURCE_EXHAUSTED.withDescription("mem_mib " + request.getSpec().getMemMib()
            + " exceeds the free memory of this node" + (heldMib > 0 ? " (" + heldMib
            + " MiB held by a golden-snapshot build)" : "")).asRuntimeException());
        return;
      }
      if (vms.containsKey(id)) {
        out.onError(Status.ALREADY_EXISTS.withDescription("VM '" + id + "' already exists").asRuntimeException());
        return;
      }
      VmReport r = VmReport.newBuilder().setId(id).setSpec(request.getSpec())
          .setState(AgentVmState.AGENT_VM_STATE_RUNNING).setPid(1000 + vms.size()).build();
      vms.put(id, r);
      out.onNext(CreateVmResponse.newBuilder().setVm(r).build());
    }
    out.onCompleted();
  }

  @Override
  public void destroyVm(DestroyVmRequest request, StreamObserver<DestroyVmResponse> out) {
    if (vms.remove(request.getId()) == null) {
      out.onError(Status.NOT_FOUND.withDescription("VM '" + request.getId() + "' not found").asRuntimeException());
      return;
    }
    out.onNext(DestroyVmResponse.getDefaultInstance());
    out.onCompleted();
  }
}
