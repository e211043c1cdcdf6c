package dev.noid.agent.api;

import dev.noid.agent.checkpoint.CheckpointService;
import dev.noid.agent.checkpoint.CheckpointTransfer;
import dev.noid.agent.node.NodeReporter;
import dev.noid.agent.node.VmReports;
import dev.noid.api.agent.v1.AgentGrpc;
import dev.noid.api.agent.v1.CallError;
import dev.noid.api.agent.v1.CheckpointChunk;
import dev.noid.api.agent.v1.ConsoleRequest;
import dev.noid.api.agent.v1.ConsoleResponse;
import dev.noid.api.agent.v1.CreateCheckpointRequest;
import dev.noid.api.agent.v1.CreateCheckpointResponse;
import dev.noid.api.agent.v1.CreateVmRequest;
import dev.noid.api.agent.v1.CreateVmResult;
import dev.noid.api.agent.v1.CreateVmsRequest;
import dev.noid.api.agent.v1.CreateVmsResponse;
import dev.noid.api.agent.v1.DeleteCheckpointRequest;
import dev.noid.api.agent.v1.DeleteCheckpointResponse;
import dev.noid.api.agent.v1.DestroyVmRequest;
import dev.noid.api.agent.v1.DestroyVmResponse;
import dev.noid.api.agent.v1.ExecRequest;
import dev.noid.api.agent.v1.ExecResponse;
import dev.noid.api.agent.v1.ExportCheckpointRequest;
import dev.noid.api.agent.v1.ListMemoryBasesRequest;
import dev.noid.api.agent.v1.ListMemoryBasesResponse;
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
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.VmManager;
import dev.noid.common.grpc.UnaryPerMessage;
import io.grpc.Context;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Supplier;

/**
 * noid.agent.v1.Agent: a thin adapter from gRPC to {@link VmManager} and
 * {@link CheckpointService} / {@link CheckpointTransfer}. Failures become gRPC status in one
 * place ({@link GrpcErrors}).
 */
public final class GrpcAgentService extends AgentGrpc.AgentImplBase {
  private final VmManager vms;
  private final CheckpointService checkpoints;
  private final CheckpointTransfer transfer;
  private final NodeReporter reporter;
  private final dev.noid.agent.transfer.PeerPulls pulls;
  private final dev.noid.agent.transfer.ImageOffers imageOffers;
  private final ScheduledExecutorService timers =
      Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("exec-timers").daemon().factory());

  @Inject
  GrpcAgentService(VmManager vms, CheckpointService checkpoints, CheckpointTransfer transfer,
      NodeReporter reporter, dev.noid.agent.transfer.PeerPulls pulls,
      dev.noid.agent.transfer.ImageOffers imageOffers) {
    this.pulls = pulls;
    this.imageOffers = imageOffers;
    this.vms = vms;
    this.checkpoints = checkpoints;
    this.transfer = transfer;
    this.reporter = reporter;
  }

  /** One answer, or the failure as its gRPC status (shared by this node's unary services). */
  static <T> void unary(StreamObserver<T> out, Supplier<T> work) {
    T result;
    try {
      result = work.get();
    } catch (RuntimeException e) {
      out.onError(GrpcErrors.toStatus(e));
      return;
    }
    out.onNext(result);
    out.onCompleted();
  }

  private static Duration seconds(int s) {
    return Duration.ofSeconds(s);
  }

  @Override
  public void getNodeReport(GetNodeReportRequest request, StreamObserver<GetNodeReportResponse> out) {
    unary(out, () -> GetNodeReportResponse.newBuilder().setNode(reporter.report()).build());
  }

  /** The most creates one batch may carry. */
  static final int MAX_CREATES_PER_BATCH = 1000;

  /** Each batch answered on its own, as a unary call would answer it, on one stream. */
  @Override
  public StreamObserver<CreateVmsRequest> createVmsStream(StreamObserver<CreateVmsResponse> out) {
    return UnaryPerMessage.serve(out, this::createBatch,
        (request, answer) -> answer.toBuilder().setBatch(request.getBatch()).build());
  }

  private void createBatch(CreateVmsRequest request, StreamObserver<CreateVmsResponse> out) {
    if (request.getCreatesCount() > MAX_CREATES_PER_BATCH) {
      out.onError(GrpcErrors.toStatus(new AgentException(AgentException.Code.INVALID_ARGUMENT,
          "creates: at most " + MAX_CREATES_PER_BATCH + " per batch; got " + request.getCreatesCount())));
      return;
    }
    // The controller names an image's peer in one create of the batch: every create of that
    // image must find the offer, whichever reaches the image cache first.
    for (CreateVmRequest r : request.getCreatesList()) {
      if (r.hasImagePeer()) {
        offerImage(r.getSpec().getImage(), r.getImagePeer());
      }
    }
    // Each create runs as if it had come alone, all at once.
    List<java.util.concurrent.Future<CreateVmResult>> results = new ArrayList<>();
    try (var each = Executors.newVirtualThreadPerTaskExecutor()) {
      for (CreateVmRequest r : request.getCreatesList()) {
        results.add(each.submit(() -> createOne(r)));
      }
    }
    CreateVmsResponse.Builder answer = CreateVmsResponse.newBuilder();
    for (var f : results) {
      answer.addResults(f.resultNow());
    }
    out.onNext(answer.build());
    out.onCompleted();
  }

  // A fleet image (NAME@sha256:HEX) this node may take from the other node the controller named.
  private void offerImage(String image, dev.noid.api.agent.v1.ImagePeer peer) {
    int at = image.indexOf('@');
    if (at >= 0) {
      imageOffers.offer(image.substring(at + 1), peer);
    }
  }

  private CreateVmResult createOne(CreateVmRequest r) {
    try {
      return CreateVmResult.newBuilder().setVm(VmReports.toProto(vms.create(r.getSpec(), seconds(r.getBootTimeoutSeconds())))).build();
    } catch (RuntimeException e) {
      io.grpc.Status status = GrpcErrors.toStatus(e).getStatus();
      return CreateVmResult.newBuilder().setError(CallError.newBuilder().setCode(status.getCode().value())
          .setMessage(status.getDescription() == null ? "" : status.getDescription())).build();
    }
  }

  @Override
  public void getVm(GetVmRequest request, StreamObserver<GetVmResponse> out) {
    unary(out, () -> GetVmResponse.newBuilder().setVm(reporter.withUsage(vms.status(request.getId())))
        .build());
  }

  @Override
  public void listVms(ListVmsRequest request, StreamObserver<ListVmsResponse> out) {
    unary(out, () -> ListVmsResponse.newBuilder().addAllVms(reporter.vmReports()).build());
  }

  @Override
  public void stopVm(StopVmRequest request, StreamObserver<StopVmResponse> out) {
    unary(out, () -> StopVmResponse.newBuilder().setVm(VmReports.toProto(vms.stop(request.getId()))).build());
  }

  @Override
  public void startVm(StartVmRequest request, StreamObserver<StartVmResponse> out) {
    unary(out, () -> StartVmResponse.newBuilder()
        .setVm(VmReports.toProto(vms.start(request.getId(), seconds(request.getBootTimeoutSeconds())))).build());
  }

  @Override
  public void pauseVm(PauseVmRequest request, StreamObserver<PauseVmResponse> out) {
    unary(out, () -> PauseVmResponse.newBuilder().setVm(VmReports.toProto(vms.pause(request.getId()))).build());
  }

  @Override
  public void resumeVm(ResumeVmRequest request, StreamObserver<ResumeVmResponse> out) {
    unary(out, () -> ResumeVmResponse.newBuilder().setVm(VmReports.toProto(vms.resume(request.getId()))).build());
  }

  @Override
  public void destroyVm(DestroyVmRequest request, StreamObserver<DestroyVmResponse> out) {
    unary(out, () -> {
      vms.destroy(request.getId());
      return DestroyVmResponse.getDefaultInstance();
    });
  }

  @Override
  public StreamObserver<ExecRequest> exec(StreamObserver<ExecResponse> out) {
    return new ExecCall(vms, (ServerCallStreamObserver<ExecResponse>) out, timers);
  }

  @Override
  public StreamObserver<ConsoleRequest> console(StreamObserver<ConsoleResponse> out) {
    return new ConsoleCall(vms, (ServerCallStreamObserver<ConsoleResponse>) out);
  }

  @Override
  public void createCheckpoint(CreateCheckpointRequest request,
      StreamObserver<CreateCheckpointResponse> out) {
    Context call = Context.current(); // cancelled past its deadline, or when the caller goes
    unary(out, () -> CreateCheckpointResponse.newBuilder().setCheckpoint(
        checkpoints.create(request.getVmId(), request.getCheckpointId(), request.getLabel(),
            call::isCancelled)).build());
  }

  @Override
  public void listCheckpoints(ListCheckpointsRequest request,
      StreamObserver<ListCheckpointsResponse> out) {
    unary(out, () -> ListCheckpointsResponse.newBuilder()
        .addAllCheckpoints(checkpoints.list(request.getVmId())).build());
  }

  @Override
  public void deleteCheckpoint(DeleteCheckpointRequest request,
      StreamObserver<DeleteCheckpointResponse> out) {
    unary(out, () -> {
      checkpoints.delete(request.getCheckpointId());
      return DeleteCheckpointResponse.getDefaultInstance();
    });
  }

  @Override
  public void restoreCheckpoint(RestoreCheckpointRequest request,
      StreamObserver<RestoreCheckpointResponse> out) {
    unary(out, () -> {
      if (request.hasImagePeer()) {
        offerImage(request.getTarget().getImage(), request.getImagePeer());
      }
      return RestoreCheckpointResponse.newBuilder().setVm(VmReports.toProto(checkpoints.restore(
          request.getCheckpointId(), request.getTarget(), seconds(request.getBootTimeoutSeconds()))))
          .build();
    });
  }

  @Override
  public void exportCheckpoint(ExportCheckpointRequest request, StreamObserver<CheckpointChunk> out) {
    ExportCall.serve(transfer, request.getCheckpointId(),
        java.util.Set.copyOf(request.getOmitMemoryBasesList()),
        request.getReceiverLacksMemoryBases(), request.getMemoryBaseChallenge(), out);
  }

  @Override
  public void listMemoryBases(ListMemoryBasesRequest request,
      StreamObserver<ListMemoryBasesResponse> out) {
    unary(out, () -> ListMemoryBasesResponse.newBuilder().addAllSha256(transfer.memoryBases())
        .setChallenge(transfer.memoryBaseChallenge()).build());
  }

  @Override
  public StreamObserver<CheckpointChunk> importCheckpoint(
      StreamObserver<ImportCheckpointResponse> out) {
    return new ImportCall(transfer.receive(), out);
  }

  @Override
  public void fetchCheckpoint(dev.noid.api.agent.v1.FetchCheckpointRequest request,
      StreamObserver<dev.noid.api.agent.v1.FetchCheckpointResponse> out) {
    unary(out, () -> {
      var f = checkpoints.fetch(request.getCheckpointId());
      return dev.noid.api.agent.v1.FetchCheckpointResponse.newBuilder()
          .setCheckpoint(f.checkpoint()).setChunksFetched(f.chunksFetched())
          .setChunksCached(f.chunksCached()).build();
    });
  }

  @Override
  public void pullCheckpoint(dev.noid.api.agent.v1.PullCheckpointRequest request,
      StreamObserver<dev.noid.api.agent.v1.PullCheckpointResponse> out) {
    unary(out, () -> {
      var pulled = pulls.pull(request.getCheckpointId(), request.getSourceNode(),
          request.getSourceAddress(), request.getGrant());
      return dev.noid.api.agent.v1.PullCheckpointResponse.newBuilder()
          .setCheckpoint(pulled.checkpoint()).setBytesReceived(pulled.bytesReceived())
          .setResumedFromBytes(pulled.resumedFromBytes()).build();
    });
  }
}
