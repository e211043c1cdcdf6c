package dev.noid.controller.scale.hollow;

import com.google.protobuf.ByteString;
import com.google.protobuf.Timestamp;
import dev.noid.api.agent.v1.AgentGrpc;
import dev.noid.api.agent.v1.AgentVmState;
import dev.noid.api.agent.v1.CallError;
import dev.noid.api.agent.v1.CheckpointChunk;
import dev.noid.api.agent.v1.CheckpointInfo;
import dev.noid.api.agent.v1.ConsoleRequest;
import dev.noid.api.agent.v1.ConsoleResponse;
import dev.noid.api.agent.v1.CreateCheckpointRequest;
import dev.noid.api.agent.v1.CreateCheckpointResponse;
import dev.noid.api.agent.v1.CreateVmResult;
import dev.noid.api.agent.v1.CreateVmsRequest;
import dev.noid.api.agent.v1.CreateVmsResponse;
import dev.noid.api.agent.v1.DeleteCheckpointRequest;
import dev.noid.api.agent.v1.DeleteCheckpointResponse;
import dev.noid.api.agent.v1.DestroyVmRequest;
import dev.noid.api.agent.v1.DestroyVmResponse;
import dev.noid.api.agent.v1.ExecExit;
import dev.noid.api.agent.v1.ExecRequest;
import dev.noid.api.agent.v1.ExecResponse;
import dev.noid.api.agent.v1.ExportCheckpointRequest;
import dev.noid.api.agent.v1.GetNodeReportRequest;
import dev.noid.api.agent.v1.GetNodeReportResponse;
import dev.noid.api.agent.v1.GetVmRequest;
import dev.noid.api.agent.v1.GetVmResponse;
import dev.noid.api.agent.v1.ImportCheckpointResponse;
import dev.noid.api.agent.v1.ListCheckpointsRequest;
import dev.noid.api.agent.v1.ListCheckpointsResponse;
import dev.noid.api.agent.v1.ListVmsRequest;
import dev.noid.api.agent.v1.ListVmsResponse;
import dev.noid.api.agent.v1.PauseVmRequest;
import dev.noid.api.agent.v1.PauseVmResponse;
import dev.noid.api.agent.v1.RestoreCheckpointRequest;
import dev.noid.api.agent.v1.RestoreCheckpointResponse;
import dev.noid.api.agent.v1.ResumeVmRequest;
import dev.noid.api.agent.v1.ResumeVmResponse;
import dev.noid.api.agent.v1.StartVmRequest;
import dev.noid.api.agent.v1.StartVmResponse;
import dev.noid.api.agent.v1.StopVmRequest;
import dev.noid.api.agent.v1.StopVmResponse;
import dev.noid.api.agent.v1.VmReport;
import dev.noid.api.agent.v1.VmSpec;
import dev.noid.common.grpc.UnaryPerMessage;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * The one fake node agent of the controller's tests and benchmarks (Cloud Hypervisor and real
 * guests cannot run at this scale here): noid.agent.v1.Agent answered from {@link HollowNode}'s
 * memory, each VM operation taking the simulated hypervisor's time without holding a thread.
 * It keeps the agent's contract where the controller relies on it (see {@link HollowNode}) and
 * its error codes (docs/decisions.md): a hypervisor failure is INTERNAL "hypervisor: ...".
 * Exec answers every command with its own words on stdout and exit code 0; the console echoes
 * what is typed. A checkpoint exports as one file holding its record and imports with the real
 * agent's checks ({@link HollowCheckpointFiles}).
 *
 * <p>Tests can make it misbehave ({@link Faults}) and count what reached it.
 */
public final class FakeAgent extends AgentGrpc.AgentImplBase {
  private final HollowNode node;
  private final SimulatedHypervisor hypervisor;
  private final CreateCallStats creates;
  private final Faults faults = new Faults();
  private final java.util.concurrent.atomic.AtomicInteger streamsOpened = new java.util.concurrent.atomic.AtomicInteger();
  private final java.util.concurrent.atomic.AtomicInteger streamedBatches = new java.util.concurrent.atomic.AtomicInteger();
  private final java.util.List<dev.noid.api.agent.v1.ExecStart> execStarts =
      new java.util.concurrent.CopyOnWriteArrayList<>();

  FakeAgent(HollowNode node, SimulatedHypervisor hypervisor, CreateCallStats creates) {
    this.node = node;
    this.hypervisor = hypervisor;
    this.creates = creates;
  }

  /** A fake agent for one node with {@code memoryMib} and 64 vCPUs, answering at once. */
  public static FakeAgent instant(String node, long memoryMib) {
    return new FakeAgent(new HollowNode(node, 64, memoryMib), new SimulatedHypervisor(Duration.ZERO, null),
        new CreateCallStats());
  }

  /** This node's AgentMigration, over the same VMs; served beside this service. */
  public synchronized FakeAgentMigration migration() {
    if (migration == null) {
      migration = new FakeAgentMigration(node);
    }
    return migration;
  }

  private FakeAgentMigration migration;

  public Faults faults() {
    return faults;
  }

  /**
   * The node holds VM {@code spec} in {@code state}, however it got there (a live migration a
   * test stands in for), and reports it so from now on.
   */
  public void holds(VmSpec spec, AgentVmState state) {
    node.admit(spec);
    node.setState(spec.getId(), state);
  }

  /** The node's copy of VM {@code id} is in {@code state} from now on. */
  public void vmIs(String id, AgentVmState state) {
    node.setState(id, state);
  }

  /** VM {@code id}'s VMM exits on its own: the node reports it DEAD from now on. */
  public void vmmDied(String id) {
    node.setState(id, AgentVmState.AGENT_VM_STATE_DEAD);
  }

  /** The VMs it holds now, by id, as it would report them. */
  public java.util.Map<String, VmReport> vms() {
    java.util.Map<String, VmReport> byId = new java.util.HashMap<>();
    node.vms().forEach(v -> byId.put(v.getId(), v));
    return byId;
  }

  /** How many checkpoints it holds. */
  public int checkpointCount() {
    return node.checkpoints("").size();
  }

  /** The node holds checkpoint {@code info}'s files, however they got there. */
  public void holdsCheckpoint(dev.noid.api.agent.v1.CheckpointInfo info) {
    node.putCheckpoint(info);
  }

  /** Whether it holds the checkpoint's files. */
  public boolean hasCheckpoint(String id) {
    return node.checkpoints("").stream().anyMatch(c -> c.getId().equals(id));
  }

  /**
   * Memory the agent uses for itself, as a golden-snapshot build's throwaway VM does: the
   * controller's ledger does not know it, the agent's capacity check does.
   */
  public void hold(long mib) {
    node.hold(mib);
  }

  /** Batches of creates answered so far (each a stream message), and the creates they carried. */
  public int batchCalls() {
    return (int) creates.calls();
  }

  public int batchedCreates() {
    return (int) creates.vms();
  }

  /** CreateVmsStream calls opened so far. */
  /** Every command start that reached this agent, as the controller sent it. */
  public java.util.List<dev.noid.api.agent.v1.ExecStart> execStarts() {
    return java.util.List.copyOf(execStarts);
  }

  public int streamsOpened() {
    return streamsOpened.get();
  }

  /** Batches that came over CreateVmsStream. */
  public int streamedBatches() {
    return streamedBatches.get();
  }

  /** Completes {@code out} with {@code work}'s answer after the simulated operation time. */
  private <T> void simulated(StreamObserver<T> out, java.util.function.Supplier<T> work) {
    hypervisor.operate(() -> answer(out, work));
  }

  static <T> void answer(StreamObserver<T> out, java.util.function.Supplier<T> work) {
    T result;
    try {
      result = work.get();
    } catch (HollowNode.Refused e) {
      out.onError(e.status().asRuntimeException());
      return;
    }
    out.onNext(result);
    out.onCompleted();
  }

  @Override
  public void getNodeReport(GetNodeReportRequest request, StreamObserver<GetNodeReportResponse> out) {
    answer(out, () -> GetNodeReportResponse.newBuilder().setNode(node.report()).build());
  }

  /** Every create admitted or refused on its own; the admitted ones run in one simulated span. */
  private void createBatch(CreateVmsRequest request, StreamObserver<CreateVmsResponse> out) {
    creates.call(request.getCreatesCount());
    Status whole = faults.beforeBatch();
    if (whole != null) {
      out.onError(whole.asRuntimeException());
      return;
    }
    CreateVmResult[] results = new CreateVmResult[request.getCreatesCount()];
    for (int i = 0; i < results.length; i++) {
      try {
        faults.refuseCreate();
        node.admit(request.getCreates(i).getSpec());
      } catch (HollowNode.Refused e) {
        results[i] = CreateVmResult.newBuilder().setError(CallError.newBuilder()
            .setCode(e.status().getCode().value()).setMessage(e.status().getDescription())).build();
      }
    }
    simulated(out, () -> {
      CreateVmsResponse.Builder answer = CreateVmsResponse.newBuilder();
      for (int i = 0; i < results.length; i++) {
        answer.addResults(results[i] != null ? results[i] : CreateVmResult.newBuilder().setVm(
            node.setState(request.getCreates(i).getSpec().getId(), AgentVmState.AGENT_VM_STATE_RUNNING)).build());
      }
      return answer.build();
    });
  }

  /** Each batch answered on its own, as a unary call would answer it, on one stream. */
  @Override
  public StreamObserver<CreateVmsRequest> createVmsStream(StreamObserver<CreateVmsResponse> out) {
    streamsOpened.incrementAndGet();
    return UnaryPerMessage.serve(out, (request, answer) -> {
      streamedBatches.incrementAndGet();
      createBatch(request, answer);
    },
        (request, answer) -> answer.toBuilder().setBatch(request.getBatch()).build());
  }

  @Override
  public void getVm(GetVmRequest request, StreamObserver<GetVmResponse> out) {
    answer(out, () -> GetVmResponse.newBuilder().setVm(node.require(request.getId())).build());
  }

  @Override
  public void listVms(ListVmsRequest request, StreamObserver<ListVmsResponse> out) {
    answer(out, () -> ListVmsResponse.newBuilder().addAllVms(node.vms()).build());
  }

  @Override
  public void stopVm(StopVmRequest request, StreamObserver<StopVmResponse> out) {
    simulated(out, () -> {
      faults.refuseStop();
      return StopVmResponse.newBuilder()
          .setVm(node.setState(request.getId(), AgentVmState.AGENT_VM_STATE_STOPPED)).build();
    });
  }

  @Override
  public void startVm(StartVmRequest request, StreamObserver<StartVmResponse> out) {
    simulated(out, () -> StartVmResponse.newBuilder()
        .setVm(node.setState(request.getId(), AgentVmState.AGENT_VM_STATE_RUNNING)).build());
  }

  @Override
  public void pauseVm(PauseVmRequest request, StreamObserver<PauseVmResponse> out) {
    simulated(out, () -> PauseVmResponse.newBuilder()
        .setVm(node.setState(request.getId(), AgentVmState.AGENT_VM_STATE_PAUSED)).build());
  }

  @Override
  public void resumeVm(ResumeVmRequest request, StreamObserver<ResumeVmResponse> out) {
    simulated(out, () -> ResumeVmResponse.newBuilder()
        .setVm(node.setState(request.getId(), AgentVmState.AGENT_VM_STATE_RUNNING)).build());
  }

  @Override
  public void destroyVm(DestroyVmRequest request, StreamObserver<DestroyVmResponse> out) {
    simulated(out, () -> {
      faults.refuseDestroy();
      node.remove(request.getId());
      return DestroyVmResponse.getDefaultInstance();
    });
  }

  @Override
  public StreamObserver<ExecRequest> exec(StreamObserver<ExecResponse> out) {
    return new StreamObserver<>() {
      private boolean started;
      private boolean cat;

      @Override
      public void onNext(ExecRequest r) {
        if (cat && r.hasStdin()) {
          out.onNext(ExecResponse.newBuilder().setStdout(r.getStdin()).build());
          return;
        }
        if (cat && r.hasStdinClose()) {
          cat = false;
          out.onNext(ExecResponse.newBuilder().setExit(ExecExit.newBuilder().setExitCode(0)).build());
          out.onCompleted();
          return;
        }
        if (started || !r.hasStart()) {
          return; // signals and resizes have nothing to reach in a hollow guest
        }
        started = true;
        execStarts.add(r.getStart());
        try {
          VmReport vm = node.require(r.getStart().getVmId());
          if (vm.getState() != AgentVmState.AGENT_VM_STATE_RUNNING) {
            throw new HollowNode.Refused(Status.FAILED_PRECONDITION.withDescription(
                "VM '" + vm.getId() + "' is not running"));
          }
        } catch (HollowNode.Refused e) {
          out.onError(e.status().asRuntimeException());
          return;
        }
        if (r.getStart().getStdin()) {
          cat = true; // with stdin, the hollow guest is `cat`: it runs until stdin closes
          return;
        }
        String echo = String.join(" ", r.getStart().getCommandList()) + "\n";
        out.onNext(ExecResponse.newBuilder()
            .setStdout(ByteString.copyFrom(echo, StandardCharsets.UTF_8)).build());
        out.onNext(ExecResponse.newBuilder().setExit(ExecExit.newBuilder().setExitCode(0)).build());
        out.onCompleted();
      }

      @Override
      public void onError(Throwable t) {
        // the caller went away: nothing runs on a hollow guest to stop
      }

      @Override
      public void onCompleted() {
        if (!started) {
          out.onError(Status.INVALID_ARGUMENT.withDescription("start: the first message must be start")
              .asRuntimeException());
        }
      }
    };
  }

  @Override
  public StreamObserver<ConsoleRequest> console(StreamObserver<ConsoleResponse> out) {
    return new StreamObserver<>() {
      private boolean attached;
      private boolean ended;

      @Override
      public void onNext(ConsoleRequest r) {
        if (ended) {
          return;
        }
        switch (r.getMessageCase()) {
          case VM_ID -> {
            try {
              VmReport vm = node.require(r.getVmId());
              if (vm.getState() != AgentVmState.AGENT_VM_STATE_RUNNING) {
                throw new HollowNode.Refused(Status.FAILED_PRECONDITION.withDescription(
                    "VM '" + vm.getId() + "' is not running"));
              }
              attached = true;
            } catch (HollowNode.Refused e) {
              end(e.status());
            }
          }
          case INPUT -> {
            if (!attached) {
              end(Status.FAILED_PRECONDITION.withDescription("the first console request must be vm_id"));
            } else {
              out.onNext(ConsoleResponse.newBuilder().setOutput(r.getInput()).build());
            }
          }
          case RESIZE -> { } // a hollow serial line has no window size either
          default -> end(Status.INVALID_ARGUMENT.withDescription("empty console request"));
        }
      }

      private void end(Status status) {
        ended = true;
        out.onError(status.asRuntimeException());
      }

      @Override
      public void onError(Throwable t) {
        ended = true;
      }

      @Override
      public void onCompleted() {
        if (!ended) {
          ended = true;
          out.onCompleted();
        }
      }
    };
  }

  @Override
  public void exportCheckpoint(ExportCheckpointRequest request, StreamObserver<CheckpointChunk> out) {
    List<CheckpointChunk> chunks;
    try {
      chunks = HollowCheckpointFiles.export(node.checkpoint(request.getCheckpointId()));
    } catch (HollowNode.Refused e) {
      out.onError(e.status().asRuntimeException());
      return;
    }
    chunks.forEach(out::onNext);
    out.onCompleted();
  }

  @Override
  public StreamObserver<CheckpointChunk> importCheckpoint(StreamObserver<ImportCheckpointResponse> out) {
    return HollowCheckpointFiles.receive(node, faults, out);
  }

  @Override
  public void createCheckpoint(CreateCheckpointRequest request,
      StreamObserver<CreateCheckpointResponse> out) {
    simulated(out, () -> {
      VmReport vm = node.require(request.getVmId());
      faults.refuseCheckpoint();
      Instant now = Instant.now();
      CheckpointInfo info = CheckpointInfo.newBuilder().setId(request.getCheckpointId())
          .setVmId(vm.getId()).setLabel(request.getLabel()).setSpec(vm.getSpec())
          .setDurationMs(hypervisor.perOperation().toMillis())
          // What a real one holds most of: the guest's memory.
          .setSizeBytes((long) vm.getSpec().getMemMib() << 20)
          .setHypervisor("HYPERVISOR_KIND_SIMULATED")
          .setCreateTime(Timestamp.newBuilder().setSeconds(now.getEpochSecond()).setNanos(now.getNano()))
          .build();
      node.putCheckpoint(info);
      faults.beforeCheckpointAnswer();
      return CreateCheckpointResponse.newBuilder().setCheckpoint(info).build();
    });
  }

  @Override
  public void listCheckpoints(ListCheckpointsRequest request,
      StreamObserver<ListCheckpointsResponse> out) {
    answer(out, () -> {
      faults.refuseCheckpointList();
      return ListCheckpointsResponse.newBuilder()
          .addAllCheckpoints(node.checkpoints(request.getVmId())).build();
    });
  }

  @Override
  public void deleteCheckpoint(DeleteCheckpointRequest request,
      StreamObserver<DeleteCheckpointResponse> out) {
    answer(out, () -> {
      node.removeCheckpoint(request.getCheckpointId());
      return DeleteCheckpointResponse.getDefaultInstance();
    });
  }

  @Override
  public void restoreCheckpoint(RestoreCheckpointRequest request,
      StreamObserver<RestoreCheckpointResponse> out) {
    simulated(out, () -> {
      String id = request.getTarget().getId();
      if (faults.restoresStopFirst() && vms().containsKey(id)) {
        node.setState(id, AgentVmState.AGENT_VM_STATE_STOPPED);
      }
      faults.refuseRestore();
      return RestoreCheckpointResponse.newBuilder()
          .setVm(node.restore(request.getCheckpointId(), request.getTarget())).build();
    });
  }
}
