package dev.noid.client;

import dev.noid.api.v1.Node;
import dev.noid.api.v1.NodeServiceGrpc;
import dev.noid.api.v1.Vm;
import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.api.v1.WatchNodesRequest;
import dev.noid.api.v1.WatchNodesResponse;
import dev.noid.api.v1.WatchVmsRequest;
import dev.noid.api.v1.WatchVmsResponse;
import java.util.Map;
import java.util.concurrent.ScheduledExecutorService;

/** The two watches {@link NoidClient} offers, each resumed from its last revision. */
final class Watches {
  private Watches() {}

  static Watch<WatchVmsResponse, Vm> vms(VmServiceGrpc.VmServiceStub stub,
      Map<String, String> labelSelector, long sinceRevision, WatchListener<Vm> listener,
      ScheduledExecutorService timer) {
    Watch<WatchVmsResponse, Vm> w = new Watch<>((since, out) -> stub.watchVms(
        WatchVmsRequest.newBuilder().putAllLabelSelector(labelSelector).setSinceRevision(since)
            .build(), out),
        r -> new WatchEvent<>(type(r.getType().name()), r.hasVm() ? r.getVm() : null,
            r.getRevision()),
        listener, timer, sinceRevision);
    w.start();
    return w;
  }

  static Watch<WatchNodesResponse, Node> nodes(NodeServiceGrpc.NodeServiceStub stub,
      long sinceRevision, WatchListener<Node> listener, ScheduledExecutorService timer) {
    Watch<WatchNodesResponse, Node> w = new Watch<>((since, out) -> stub.watchNodes(
        WatchNodesRequest.newBuilder().setSinceRevision(since).build(), out),
        r -> new WatchEvent<>(type(r.getType().name()), r.hasNode() ? r.getNode() : null,
            r.getRevision()),
        listener, timer, sinceRevision);
    w.start();
    return w;
  }

  private static WatchEvent.Type type(String wireName) {
    return WatchEvent.Type.valueOf(wireName.substring("EVENT_TYPE_".length()));
  }
}
