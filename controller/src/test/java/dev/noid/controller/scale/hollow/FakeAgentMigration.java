package dev.noid.controller.scale.hollow;

import dev.noid.api.agent.v1.AbortIncomingRequest;
import dev.noid.api.agent.v1.AbortIncomingResponse;
import dev.noid.api.agent.v1.AgentMigrationGrpc;
import dev.noid.api.agent.v1.AgentVmState;
import dev.noid.api.agent.v1.DescribeMigrationRequest;
import dev.noid.api.agent.v1.DescribeMigrationResponse;
import dev.noid.api.agent.v1.FinishIncomingRequest;
import dev.noid.api.agent.v1.FinishIncomingResponse;
import dev.noid.api.agent.v1.HypervisorKind;
import dev.noid.api.agent.v1.MigrateVmRequest;
import dev.noid.api.agent.v1.MigrateVmResponse;
import dev.noid.api.agent.v1.MigrationShape;
import dev.noid.api.agent.v1.PrepareIncomingRequest;
import dev.noid.api.agent.v1.PrepareIncomingResponse;
import dev.noid.api.agent.v1.VmReport;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A node agent's AgentMigration as the controller sees it, over a {@link FakeAgent}'s VMs: the
 * source must run the VM; the target holds it CREATING (incomplete) from prepare until finish
 * runs it, and an abort removes only an incomplete one, answering whether it was already
 * running. Tests make a step fail with the status they choose.
 */
public final class FakeAgentMigration extends AgentMigrationGrpc.AgentMigrationImplBase {
  private final HollowNode node;
  private final Set<String> incoming = ConcurrentHashMap.newKeySet();
  private volatile Status failSends;
  private volatile Status failFinishes;
  private volatile boolean commitThenFail;
  private volatile Status failAborts;
  private volatile String finishReason;
  private volatile java.util.concurrent.CountDownLatch sendGate;
  private final java.util.concurrent.atomic.AtomicInteger sendsHeld =
      new java.util.concurrent.atomic.AtomicInteger();

  FakeAgentMigration(HollowNode node) {
    this.node = node;
  }

  /** MigrateVm fails with {@code status}; the source runs on, as a real one does. */
  public void failSends(Status status) {
    failSends = status;
  }

  /**
   * FinishIncoming fails with {@code status}: before the commit (nothing of the VM is left,
   * as on a real target), or with {@code committed} after it (the VM runs, the answer is lost).
   */
  public void failFinishes(Status status, boolean committed) {
    failFinishes = status;
    commitThenFail = committed;
  }

  /**
   * FinishIncoming commits and answers the VM RUNNING with {@code reason}, as a real target does
   * when it could not give the guest its address.
   */
  public void finishWithReason(String reason) {
    finishReason = reason;
  }

  /** From now on MigrateVm waits (then carries on as usual) until {@link #openSends()}. */
  public void holdSends() {
    sendGate = new java.util.concurrent.CountDownLatch(1);
  }

  public void openSends() {
    java.util.concurrent.CountDownLatch g = sendGate;
    sendGate = null;
    if (g != null) {
      g.countDown();
    }
  }

  /** MigrateVm calls waiting at the gate now. */
  public int sendsHeld() {
    return sendsHeld.get();
  }

  public void failAborts(Status status) {
    failAborts = status;
  }

  private static void refuse(Status status) {
    if (status != null) {
      throw new HollowNode.Refused(status);
    }
  }

  @Override
  public void describeMigration(DescribeMigrationRequest request,
      StreamObserver<DescribeMigrationResponse> out) {
    FakeAgent.answer(out, () -> {
      VmReport vm = running(request.getId());
      return DescribeMigrationResponse.newBuilder().setSpec(vm.getSpec())
          .setShape(MigrationShape.newBuilder().setHypervisor(HypervisorKind.HYPERVISOR_KIND_QEMU)
              .setAccelerator("tcg").setMachineType("pc-q35-7.2").setDiskBytes(-1)).build();
    });
  }

  private VmReport running(String id) {
    VmReport vm = node.require(id);
    if (vm.getState() != AgentVmState.AGENT_VM_STATE_RUNNING) {
      throw new HollowNode.Refused(Status.FAILED_PRECONDITION.withDescription("cannot migrate VM '"
          + id + "': it is " + vm.getState()));
    }
    return vm;
  }

  @Override
  public void prepareIncoming(PrepareIncomingRequest request,
      StreamObserver<PrepareIncomingResponse> out) {
    FakeAgent.answer(out, () -> {
      node.admit(request.getSpec());
      incoming.add(request.getSpec().getId());
      return PrepareIncomingResponse.newBuilder().setHost("127.0.0.1").setMigrationPort(49152)
          .build();
    });
  }

  @Override
  public void migrateVm(MigrateVmRequest request, StreamObserver<MigrateVmResponse> out) {
    java.util.concurrent.CountDownLatch g = sendGate;
    if (g != null) {
      sendsHeld.incrementAndGet();
      try {
        g.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        sendsHeld.decrementAndGet();
      }
    }
    FakeAgent.answer(out, () -> {
      running(request.getId());
      refuse(failSends);
      node.setState(request.getId(), AgentVmState.AGENT_VM_STATE_PAUSED);
      return MigrateVmResponse.newBuilder().setRamBytes(100L << 20).setRounds(3)
          .setVmmDowntimeMs(30).setTotalMs(500).setGuestOffsetNs(1_000_000_000L)
          .setGuestOffsetErrorNs(5_000_000).build();
    });
  }

  @Override
  public void finishIncoming(FinishIncomingRequest request,
      StreamObserver<FinishIncomingResponse> out) {
    FakeAgent.answer(out, () -> {
      String id = request.getId();
      if (!incoming.contains(id)) {
        throw new HollowNode.Refused(Status.NOT_FOUND.withDescription("VM '" + id
            + "' not found on this node"));
      }
      if (failFinishes != null && !commitThenFail) {
        incoming.remove(id);
        node.remove(id);
        refuse(failFinishes);
      }
      incoming.remove(id);
      VmReport vm = node.setState(id, AgentVmState.AGENT_VM_STATE_RUNNING);
      if (finishReason != null) {
        vm = vm.toBuilder().setReason(finishReason).build();
      }
      refuse(failFinishes);
      return FinishIncomingResponse.newBuilder().setVm(vm).setGuestOffsetNs(1_040_000_000L)
          .setGuestOffsetErrorNs(5_000_000).build();
    });
  }

  @Override
  public void abortIncoming(AbortIncomingRequest request,
      StreamObserver<AbortIncomingResponse> out) {
    FakeAgent.answer(out, () -> {
      refuse(failAborts);
      String id = request.getId();
      if (incoming.remove(id)) {
        node.remove(id);
        return AbortIncomingResponse.newBuilder().setCommitted(false).build();
      }
      boolean runs = node.vms().stream().anyMatch(v -> v.getId().equals(id));
      return AbortIncomingResponse.newBuilder().setCommitted(runs).build();
    });
  }
}
