package dev.noid.controller.vms.grpc;

import dev.noid.api.v1.GetVmRequest;
import dev.noid.api.v1.GetVmResponse;
import dev.noid.api.v1.ListVmsRequest;
import dev.noid.api.v1.ListVmsResponse;
import dev.noid.api.v1.Vm;
import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.api.v1.WatchVmsRequest;
import dev.noid.api.v1.WatchVmsResponse;
import dev.noid.controller.api.AuthInterceptor;
import dev.noid.controller.api.Calls;
import dev.noid.controller.api.GrpcStatusMapper;
import dev.noid.controller.api.LabelLimits;
import dev.noid.controller.api.OpenStreams;
import dev.noid.controller.api.ProtoMapper;
import dev.noid.controller.api.WatchStream;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.users.Principal;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.vms.VmView;
import io.grpc.ServerServiceDefinition;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * GetVm, ListVms and WatchVms over a {@link VmView}: the leader's table, or a follower's
 * replica (issue 22), which serves these three and nothing else of noid.v1.VmService.
 */
public final class VmReads {
  private final VmView vms;
  private final OpenStreams streams;

  public VmReads(VmView vms, OpenStreams streams) {
    this.vms = vms;
    this.streams = streams;
  }

  /**
   * The three reads as a service definition by name, without the VmService's other methods: a
   * server falls back to its fallback registry for those (a follower's names the leader).
   */
  public ServerServiceDefinition bindReadsOnly() {
    return ServerServiceDefinition.builder(VmServiceGrpc.SERVICE_NAME)
        .addMethod(VmServiceGrpc.getGetVmMethod(), ServerCalls.asyncUnaryCall(this::getVm))
        .addMethod(VmServiceGrpc.getListVmsMethod(), ServerCalls.asyncUnaryCall(this::listVms))
        .addMethod(VmServiceGrpc.getWatchVmsMethod(),
            ServerCalls.asyncServerStreamingCall(this::watchVms))
        .build();
  }

  void getVm(GetVmRequest r, StreamObserver<GetVmResponse> out) {
    Calls.unary(out, () -> {
      vms.requireCurrent();
      return GetVmResponse.newBuilder()
          .setVm(ProtoMapper.vm(vms.require(AuthInterceptor.caller().name(), r.getName()))).build();
    });
  }

  void listVms(ListVmsRequest r, StreamObserver<ListVmsResponse> out) {
    Calls.unary(out, () -> {
      vms.requireCurrent();
      Map<String, String> selector = LabelLimits.checkSelector("label_selector", r.getLabelSelectorMap());
      Set<VmState> states = new HashSet<>();
      r.getStatesList().forEach(s -> states.add(ProtoMapper.state(s)));
      List<VmEntry> matching = vms.ownedBy(AuthInterceptor.caller().name()).stream()
          .filter(v -> r.getStatesCount() == 0 || states.contains(v.state()))
          .filter(v -> r.getNode().isEmpty() || r.getNode().equals(v.node()))
          .filter(v -> matches(selector, v))
          .toList();
      Pages.Page<Vm> page = Pages.of(matching, VmEntry::name, ProtoMapper::vm, r.getPageSize(),
          Pages.DEFAULT_PAGE_SIZE, r.getPageToken());
      return ListVmsResponse.newBuilder().setTotalSize(matching.size()).addAllVms(page.items())
          .setNextPageToken(page.nextToken()).build();
    });
  }

  private static boolean matches(Map<String, String> selector, VmEntry v) {
    return selector.entrySet().stream().allMatch(l -> l.getValue().equals(v.labels().get(l.getKey())));
  }

  void watchVms(WatchVmsRequest r, StreamObserver<WatchVmsResponse> out) {
    Principal caller = AuthInterceptor.caller();
    String owner = caller.name();
    Map<String, String> selector;
    try {
      vms.requireCurrent();
      selector = LabelLimits.checkSelector("label_selector", r.getLabelSelectorMap());
    } catch (NoidException e) {
      out.onError(GrpcStatusMapper.toStatus(e));
      return;
    }
    new WatchStream<>(owner, (VmEntry e) -> e.owner().equals(owner) && matches(selector, e),
        new VmWatchResponses(),
        (ServerCallStreamObserver<WatchVmsResponse>) out, vms)
        // By creation too: the history may hold VMs of a removed user who had the same name.
        .replaying(e -> caller.owns(e.owner(), e.created()))
        .start(r.getSinceRevision(), streams, owner);
  }
}
