package dev.noid.controller.nodes.grpc;

import dev.noid.controller.api.AuthInterceptor;
import dev.noid.controller.api.Calls;
import dev.noid.controller.api.OpenStreams;
import dev.noid.controller.api.GrpcStatusMapper;
import dev.noid.controller.api.ProtoMapper;
import dev.noid.controller.api.WatchStream;
import dev.noid.api.v1.CordonNodeRequest;
import dev.noid.api.v1.DrainNodeRequest;
import dev.noid.api.v1.DrainNodeResponse;
import dev.noid.api.v1.DrainSummary;
import dev.noid.api.v1.DrainVmProgress;
import dev.noid.api.v1.RemoveNodeRequest;
import dev.noid.api.v1.RemoveNodeResponse;
import dev.noid.api.v1.RemovedNodeVm;
import dev.noid.controller.vms.NodeLossOutcome;
import dev.noid.api.v1.CordonNodeResponse;
import dev.noid.api.v1.GetNodeRequest;
import dev.noid.api.v1.GetNodeResponse;
import dev.noid.api.v1.ListNodesRequest;
import dev.noid.api.v1.ListNodesResponse;
import dev.noid.api.v1.NodeServiceGrpc;
import dev.noid.api.v1.UncordonNodeRequest;
import dev.noid.api.v1.UncordonNodeResponse;
import dev.noid.controller.nodes.NodeEntry;
import dev.noid.controller.nodes.NodeRegistry;
import dev.noid.controller.scheduler.Scheduler;
import dev.noid.controller.vms.service.Evacuation;
import dev.noid.controller.vms.store.VmTable;
import dev.noid.api.v1.WatchNodesRequest;
import dev.noid.api.v1.WatchNodesResponse;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import jakarta.inject.Inject;

/**
 * noid.v1.NodeService: list, get, cordon, uncordon, drain (progress streamed per VM, then a
 * summary), remove, and WatchNodes (snapshot, SYNCED, then material changes).
 */
public final class GrpcNodeService extends NodeServiceGrpc.NodeServiceImplBase {
  private final NodeRegistry nodes;
  private final Scheduler scheduler;
  private final VmTable vms;
  private final Evacuation evacuation;
  private final OpenStreams streams;

  @Inject
  public GrpcNodeService(NodeRegistry nodes, Scheduler scheduler, VmTable vms, Evacuation evacuation,
      OpenStreams streams) {
    this.streams = streams;
    this.nodes = nodes;
    this.scheduler = scheduler;
    this.vms = vms;
    this.evacuation = evacuation;
  }

  private dev.noid.api.v1.Node proto(NodeEntry n) {
    int count = vms.countOnNode(n.name());
    return ProtoMapper.node(n, scheduler, count);
  }

  @Override
  public void listNodes(ListNodesRequest r, StreamObserver<ListNodesResponse> out) {
    Calls.unary(out, () -> {
      ListNodesResponse.Builder b = ListNodesResponse.newBuilder();
      nodes.all().forEach(n -> b.addNodes(proto(n)));
      return b.build();
    });
  }

  @Override
  public void getNode(GetNodeRequest r, StreamObserver<GetNodeResponse> out) {
    Calls.unary(out, () -> GetNodeResponse.newBuilder().setNode(proto(nodes.require(r.getName()))).build());
  }

  @Override
  public void cordonNode(CordonNodeRequest r, StreamObserver<CordonNodeResponse> out) {
    Calls.unary(out, () -> CordonNodeResponse.newBuilder()
        .setNode(proto(nodes.setCordoned(r.getName(), true))).build());
  }

  @Override
  public void drainNode(DrainNodeRequest r, StreamObserver<DrainNodeResponse> out) {
    try {
      nodes.require(r.getName());
      DrainSummary.Builder summary = DrainSummary.newBuilder();
      // uint32: as sent, not as the negative int Java reads past 2^31.
      long parallelism = r.getParallelism() == 0 ? Evacuation.DEFAULT_PARALLELISM
          : Integer.toUnsignedLong(r.getParallelism());
      // Cancelled by the client (Ctrl-C): the drain starts no further moves, so one run again
      // does not race it. A call deadline that passes is not a cancel: the drain goes on, as
      // its caller's own timeout_seconds, not its client's deadline, bounds it.
      io.grpc.Context call = io.grpc.Context.current();
      evacuation.drain(r.getName(), parallelism, Integer.toUnsignedLong(r.getTimeoutSeconds()),
          () -> call.isCancelled()
              && !(call.cancellationCause() instanceof java.util.concurrent.TimeoutException),
          step -> {
        DrainVmProgress.Builder b = DrainVmProgress.newBuilder().setVm(step.vm())
            .setOwner(step.owner()).setPhase(DrainVmProgress.Phase.valueOf("PHASE_" + step.phase()))
            .setTargetNode(step.target()).setMessage(step.message());
        if (step.report() != null) {
          b.setReport(dev.noid.controller.vms.grpc.MoveReports.proto(step.report()));
        }
        DrainVmProgress p = b.build();
        out.onNext(DrainNodeResponse.newBuilder().setProgress(p).build());
        if (step.phase().equals("MOVED")) {
          summary.addMoved(p);
        } else if (step.phase().equals("FAILED")) {
          summary.addFailed(p);
        }
      });
      out.onNext(DrainNodeResponse.newBuilder().setSummary(summary).build());
      out.onCompleted();
    } catch (RuntimeException e) {
      out.onError(GrpcStatusMapper.toStatus(e));
    }
  }

  @Override
  public void removeNode(RemoveNodeRequest r, StreamObserver<RemoveNodeResponse> out) {
    Calls.unary(out, () -> {
      RemoveNodeResponse.Builder b = RemoveNodeResponse.newBuilder();
      for (NodeLossOutcome o : evacuation.removeNode(r.getName())) {
        b.addVms(RemovedNodeVm.newBuilder().setVm(o.vm()).setOwner(o.owner()).setNode(o.node())
            .setMessage(o.message()).setOutcome(outcome(o.kind())));
      }
      return b.build();
    });
  }

  private static dev.noid.api.v1.NodeLossOutcome outcome(NodeLossOutcome.Kind kind) {
    return switch (kind) {
      case RESTORED -> dev.noid.api.v1.NodeLossOutcome.NODE_LOSS_OUTCOME_RESTORED;
      case FAILED -> dev.noid.api.v1.NodeLossOutcome.NODE_LOSS_OUTCOME_FAILED;
      case REMOVED -> dev.noid.api.v1.NodeLossOutcome.NODE_LOSS_OUTCOME_REMOVED;
    };
  }

  @Override
  public void watchNodes(WatchNodesRequest r, StreamObserver<WatchNodesResponse> out) {
    new WatchStream<>("nodes", (NodeEntry n) -> true, new NodeWatchResponses(this::proto),
        (ServerCallStreamObserver<WatchNodesResponse>) out, nodes)
        .start(r.getSinceRevision(), streams, AuthInterceptor.caller().name());
  }

  @Override
  public void uncordonNode(UncordonNodeRequest r, StreamObserver<UncordonNodeResponse> out) {
    Calls.unary(out, () -> UncordonNodeResponse.newBuilder()
        .setNode(proto(nodes.setCordoned(r.getName(), false))).build());
  }
}
