package dev.noid.controller.vms.grpc;

import dev.noid.api.v1.MigrateVmRequest;
import dev.noid.api.v1.MigrateVmResponse;

import dev.noid.controller.api.AuthInterceptor;
import dev.noid.controller.api.Calls;
import dev.noid.controller.api.ProtoMapper;
import dev.noid.controller.api.OpenStreams;
import dev.noid.api.v1.AttachConsoleRequest;
import dev.noid.api.v1.Checkpoint;
import dev.noid.api.v1.AttachConsoleResponse;
import dev.noid.api.v1.CreateCheckpointRequest;
import dev.noid.api.v1.CreateCheckpointResponse;
import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.CreateVmResponse;
import dev.noid.api.v1.CreateVmsRequest;
import dev.noid.api.v1.CreateVmsResponse;
import dev.noid.api.v1.DeleteCheckpointRequest;
import dev.noid.api.v1.DeleteCheckpointResponse;
import dev.noid.api.v1.DestroyVmRequest;
import dev.noid.api.v1.DestroyVmResponse;
import dev.noid.api.v1.ExecCommandRequest;
import dev.noid.api.v1.ExecCommandResponse;
import dev.noid.api.v1.GetVmRequest;
import dev.noid.api.v1.GetVmResponse;
import dev.noid.api.v1.ListCheckpointsRequest;
import dev.noid.api.v1.ListCheckpointsResponse;
import dev.noid.api.v1.ListVmsRequest;
import dev.noid.api.v1.ListVmsResponse;
import dev.noid.api.v1.PauseVmRequest;
import dev.noid.api.v1.PauseVmResponse;
import dev.noid.api.v1.RestoreCheckpointRequest;
import dev.noid.api.v1.RestoreCheckpointResponse;
import dev.noid.api.v1.ResumeVmRequest;
import dev.noid.api.v1.ResumeVmResponse;
import dev.noid.api.v1.StartVmRequest;
import dev.noid.api.v1.StartVmResponse;
import dev.noid.api.v1.StopVmRequest;
import dev.noid.api.v1.StopVmResponse;
import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.api.v1.WatchVmsRequest;
import dev.noid.api.v1.WatchVmsResponse;
import dev.noid.controller.agents.grpc.AgentClients;
import dev.noid.controller.vms.CheckpointEntry;
import dev.noid.controller.vms.service.Checkpoints;
import dev.noid.controller.vms.service.MoveReport;
import dev.noid.controller.vms.service.VmCreates;
import dev.noid.controller.vms.service.VmMoves;
import dev.noid.controller.vms.service.VmRecords;
import dev.noid.controller.vms.service.VmTransitions;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import jakarta.inject.Inject;
import java.util.Comparator;

/**
 * noid.v1.VmService: turns each request into the domain's terms, calls the use case, maps the
 * answer.
 */
public final class GrpcVmService extends VmServiceGrpc.VmServiceImplBase {
  private final VmRecords vms;
  private final VmCreates creates;
  private final VmTransitions transitions;
  private final Checkpoints checkpoints;
  private final AgentClients agents;
  private final OpenStreams streams;
  private final VmReads reads;

  private final VmMoves moves;

  @Inject
  public GrpcVmService(VmRecords vms, VmCreates creates, VmTransitions transitions, Checkpoints checkpoints,
      AgentClients agents, OpenStreams streams, VmMoves moves) {
    this.moves = moves;
    this.streams = streams;
    this.vms = vms;
    this.creates = creates;
    this.transitions = transitions;
    this.checkpoints = checkpoints;
    this.agents = agents;
    this.reads = new VmReads(vms.table(), streams);
  }

  @Override
  public void createVm(CreateVmRequest r, StreamObserver<CreateVmResponse> out) {
    Calls.unary(out, () -> CreateVmResponse.newBuilder()
        .setVm(ProtoMapper.vm(creates.create(AuthInterceptor.caller(), VmRequests.create(r)))).build());
  }

  @Override
  public void createVms(CreateVmsRequest r, StreamObserver<CreateVmsResponse> out) {
    Calls.unary(out, () -> CreateVmsResponse.newBuilder().addAllVms(creates.createMany(AuthInterceptor.caller(),
        VmRequests.create(r.getTemplate()), Integer.toUnsignedLong(r.getCount()),
        Integer.toUnsignedLong(r.getFirstIndex())).stream().map(ProtoMapper::vm).toList()).build());
  }

  @Override
  public void getVm(GetVmRequest r, StreamObserver<GetVmResponse> out) {
    reads.getVm(r, out);
  }

  @Override
  public void listVms(ListVmsRequest r, StreamObserver<ListVmsResponse> out) {
    reads.listVms(r, out);
  }

  @Override
  public void watchVms(WatchVmsRequest r, StreamObserver<WatchVmsResponse> out) {
    reads.watchVms(r, out);
  }

  @Override
  public void destroyVm(DestroyVmRequest r, StreamObserver<DestroyVmResponse> out) {
    Calls.unary(out, () -> {
      transitions.destroy(AuthInterceptor.caller(), r.getName());
      return DestroyVmResponse.getDefaultInstance();
    });
  }

  @Override
  public void stopVm(StopVmRequest r, StreamObserver<StopVmResponse> out) {
    Calls.unary(out, () -> StopVmResponse.newBuilder()
        .setVm(ProtoMapper.vm(transitions.stop(AuthInterceptor.caller(), r.getName()))).build());
  }

  @Override
  public void startVm(StartVmRequest r, StreamObserver<StartVmResponse> out) {
    Calls.unary(out, () -> StartVmResponse.newBuilder()
        .setVm(ProtoMapper.vm(transitions.start(AuthInterceptor.caller(), r.getName()))).build());
  }

  @Override
  public void pauseVm(PauseVmRequest r, StreamObserver<PauseVmResponse> out) {
    Calls.unary(out, () -> PauseVmResponse.newBuilder()
        .setVm(ProtoMapper.vm(transitions.pause(AuthInterceptor.caller(), r.getName()))).build());
  }

  @Override
  public void resumeVm(ResumeVmRequest r, StreamObserver<ResumeVmResponse> out) {
    Calls.unary(out, () -> ResumeVmResponse.newBuilder()
        .setVm(ProtoMapper.vm(transitions.resume(AuthInterceptor.caller(), r.getName()))).build());
  }

  @Override
  public StreamObserver<ExecCommandRequest> execCommand(StreamObserver<ExecCommandResponse> out) {
    return new ExecProxy(vms, agents, streams, AuthInterceptor.caller(),
        (ServerCallStreamObserver<ExecCommandResponse>) out);
  }

  @Override
  public StreamObserver<AttachConsoleRequest> attachConsole(StreamObserver<AttachConsoleResponse> out) {
    return new ConsoleProxy(vms, agents, streams, AuthInterceptor.caller(),
        (ServerCallStreamObserver<AttachConsoleResponse>) out);
  }

  @Override
  public void createCheckpoint(CreateCheckpointRequest r, StreamObserver<CreateCheckpointResponse> out) {
    Calls.unary(out, () -> CreateCheckpointResponse.newBuilder().setCheckpoint(ProtoMapper.checkpoint(
        checkpoints.checkpoint(AuthInterceptor.caller(), r.getVm(), r.getLabel()))).build());
  }

  @Override
  public void listCheckpoints(ListCheckpointsRequest r, StreamObserver<ListCheckpointsResponse> out) {
    Calls.unary(out, () -> {
      Pages.Page<Checkpoint> page = Pages.of(checkpoints.list(AuthInterceptor.caller(), r.getVm())
          .stream().sorted(Comparator.comparing(GrpcVmService::pageKey)).toList(),
          GrpcVmService::pageKey, ProtoMapper::checkpoint, r.getPageSize(), Pages.ALL_THAT_FIT,
          r.getPageToken());
      return ListCheckpointsResponse.newBuilder().addAllCheckpoints(page.items())
          .setNextPageToken(page.nextToken()).build();
    });
  }

  /**
   * Oldest first, as before paging: the time it was taken, of fixed width so that the text's
   * order is the time's, then the id.
   */
  private static String pageKey(CheckpointEntry c) {
    return String.format("%019d%09d/%s", c.created().getEpochSecond(), c.created().getNano(),
        c.id());
  }

  @Override
  public void deleteCheckpoint(DeleteCheckpointRequest r, StreamObserver<DeleteCheckpointResponse> out) {
    Calls.unary(out, () -> {
      checkpoints.delete(AuthInterceptor.caller(), r.getId());
      return DeleteCheckpointResponse.getDefaultInstance();
    });
  }

  @Override
  public void restoreCheckpoint(RestoreCheckpointRequest r, StreamObserver<RestoreCheckpointResponse> out) {
    Calls.unary(out, () -> RestoreCheckpointResponse.newBuilder().setVm(ProtoMapper.vm(
        checkpoints.restore(AuthInterceptor.caller(), r.getVm(), r.getCheckpoint(), r.getAsName(), r.getNode())))
        .build());
  }

  @Override
  public void migrateVm(MigrateVmRequest r, StreamObserver<MigrateVmResponse> out) {
    Calls.unary(out, () -> {
      MoveReport.Moved m = moves.migrate(AuthInterceptor.caller(), r.getName(), r.getNode(),
          r.getNoFallback(), r.getTimeoutSeconds());
      return MigrateVmResponse.newBuilder().setVm(ProtoMapper.vm(m.vm()))
          .setReport(MoveReports.proto(m.report())).build();
    });
  }
}
