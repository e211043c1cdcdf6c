package dev.noid.controller.vms.grpc;

import dev.noid.api.v1.GetVmRequest;
import dev.noid.api.v1.GetVmResponse;
import dev.noid.api.v1.ListVmsRequest;
import dev.noid.api.v1.ListVmsResponse;
import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.api.v1.WatchVmsRequest;
import dev.noid.api.v1.WatchVmsResponse;
import dev.noid.controller.api.AuthInterceptor;
import dev.noid.controller.api.Calls;
import dev.noid.controller.api.FieldLimits;
import dev.noid.controller.api.OpenStreams;
import dev.noid.controller.api.ProtoMapper;
import dev.noid.controller.api.WatchStream;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.vms.VmView;
import io.grpc.ServerServiceDefinition;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * GetVm, ListVms and WatchVms over a {@link VmView}: the leader's table, or a follower's
 * replica (issue 22), which serves these three and nothing else of noid.v1.VmService.
 */
public final class VmReads {
  static final int DEFAULT_PAGE_SIZE = 100;
  static final int MAX_PAGE_SIZE = 1000;
  /** A ListVms page ends before its VMs take this many bytes (at least one VM per page). */
  static final int MAX_PAGE_BYTES = 8 << 20;

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
      int size = r.getPageSize() == 0 ? DEFAULT_PAGE_SIZE
          : FieldLimits.atMost("page_size", r.getPageSize(), MAX_PAGE_SIZE);
      String after = decodeToken(r.getPageToken());
      Set<VmState> states = new HashSet<>();
      r.getStatesList().forEach(s -> states.add(ProtoMapper.state(s)));
      List<VmEntry> matching = vms.ownedBy(AuthInterceptor.caller().name()).stream()
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

  void watchVms(WatchVmsRequest r, StreamObserver<WatchVmsResponse> out) {
    String owner = AuthInterceptor.caller().name();
    try {
      vms.requireCurrent();
    } catch (NoidException e) {
      out.onError(dev.noid.controller.api.GrpcStatusMapper.toStatus(e));
      return;
    }
    var selector = r.getLabelSelectorMap();
    new WatchStream<>(owner, (VmEntry e) -> e.owner().equals(owner) && selector.entrySet().stream()
        .allMatch(l -> l.getValue().equals(e.labels().get(l.getKey()))), new VmWatchResponses(),
        (ServerCallStreamObserver<WatchVmsResponse>) out, vms)
        .start(r.getSinceRevision(), streams, owner);
  }
}
