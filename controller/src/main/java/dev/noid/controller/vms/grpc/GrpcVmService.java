package dev.noid.controller.vms.grpc;

import dev.noid.controller.api.AuthInterceptor;
import dev.noid.controller.api.Calls;
import dev.noid.controller.api.FieldLimits;
import dev.noid.controller.api.ProtoMapper;
import dev.noid.controller.api.OpenStreams;
import dev.noid.controller.api.WatchStream;
import dev.noid.api.v1.AttachConsoleRequest;
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
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.vms.service.Checkpoints;
import dev.noid.controller.vms.service.VmCreates;
import dev.noid.controller.vms.service.VmRecords;
import dev.noid.controller.vms.service.VmTransitions;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;

/**
 * noid.v1.VmService: turns each request into the domain's terms, calls the use case, maps the
 * answer.
 */
public final class GrpcVmService extends VmServiceGrpc.VmServiceImplBase {
  static final int DEFAULT_PAGE_SIZE = 100;
  static final int MAX_PAGE_SIZE = 1000;
  /** A ListVms page ends before its VMs take this many bytes (at least one VM per page). */
  static final int MAX_PAGE_BYTES = 8 << 20;

  private final VmRecords vms;
  private final VmCreates creates;
  private final VmTransitions transitions;
  private final Checkpoints checkpoints;
  private final AgentClients agents;
  private final OpenStreams streams;

  @Inject
  public GrpcVmService(VmRecords vms, VmCreates creates, VmTransitions transitions, Checkpoints checkpoints,
      AgentClients agents, OpenStreams streams) {
    this.streams = streams;
    this.vms = vms;
    this.creates = creates;
    this.transitions = transitions;
    this.checkpoints = checkpoints;
    this.agents = agents;
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
    Calls.unary(out, () -> GetVmResponse.newBuilder()
        .setVm(ProtoMapper.vm(vms.get(AuthInterceptor.caller(), r.getName()))).build());
  }

  @Override
  public void listVms(ListVmsRequest r, StreamObserver<ListVmsResponse> out) {
    Calls.unary(out, () -> {
      int size = r.getPageSize() == 0 ? DEFAULT_PAGE_SIZE
          : FieldLimits.atMost("page_size", r.getPageSize(), MAX_PAGE_SIZE);
      String after = decodeToken(r.getPageToken());
      java.util.Set<dev.noid.controller.domain.VmState> states = new java.util.HashSet<>();
      r.getStatesList().forEach(s -> states.add(ProtoMapper.state(s)));
      List<VmEntry> matching = vms.list(AuthInterceptor.caller()).stream()
          .filter(v -> r.getStatesCount() == 0 || states.contains(v.state()))
          .filter(v -> r.getNode().isEmpty() || r.getNode().equals(v.node()))
          .filter(v -> r.getLabelSelectorMap().entrySet().stream()
              .allMatch(l -> l.getValue().equals(v.labels().get(l.getKey()))))
          .toList();
      List<VmEntry> page = matching.stream().filter(v -> v.name().compareTo(after) > 0)
          .limit(size + 1L).toList();
      ListVmsResponse.Builder b = ListVmsResponse.newBuilder().setTotalSize(matching.size());
      // A page also ends before MAX_PAGE_BYTES, so that it fits the client's inbound limit
      // (16 MiB, docs/api.md) whatever the VMs' labels: the token then resumes after it.
      long bytes = 0;
      int taken = 0;
      for (VmEntry v : page.subList(0, Math.min(size, page.size()))) {
        var vm = ProtoMapper.vm(v);
        bytes += vm.getSerializedSize();
        if (taken > 0 && bytes > MAX_PAGE_BYTES) {
          break;
        }
        b.addVms(vm);
        taken++;
      }
      if (page.size() > taken) {
        b.setNextPageToken(encodeToken(page.get(taken - 1).name()));
      }
      return b.build();
    });
  }

  // Page tokens name the last VM of the previous page: stable under inserts and deletes.
  static String encodeToken(String lastName) {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(
        ("after:" + lastName).getBytes(StandardCharsets.UTF_8));
  }

  static String decodeToken(String token) {
    if (token.isEmpty()) {
      return "";
    }
    try {
      String s = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
      if (s.startsWith("after:")) {
        return s.substring(6);
      }
    } catch (IllegalArgumentException e) {
      // fall through
    }
    throw NoidException.invalid("page_token is not one this server issued");
  }

  @Override
  public void watchVms(WatchVmsRequest r, StreamObserver<WatchVmsResponse> out) {
    String owner = AuthInterceptor.caller().name();
    var selector = r.getLabelSelectorMap();
    new WatchStream<>(owner, (VmEntry e) -> e.owner().equals(owner) && selector.entrySet().stream()
        .allMatch(l -> l.getValue().equals(e.labels().get(l.getKey()))), new VmWatchResponses(),
        (ServerCallStreamObserver<WatchVmsResponse>) out, vms.table())
        .start(r.getSinceRevision(), streams, owner);
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
      ListCheckpointsResponse.Builder b = ListCheckpointsResponse.newBuilder();
      checkpoints.list(AuthInterceptor.caller(), r.getVm()).forEach(c -> b.addCheckpoints(ProtoMapper.checkpoint(c)));
      return b.build();
    });
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
}
