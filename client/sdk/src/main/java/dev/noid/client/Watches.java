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
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/**
 * The two watches {@link NoidClient} offers, each resumed from its last revision, and the
 * client's open ones: closing the client ends them (a watch waiting out a backoff would never
 * start again, and one on a shared channel would run on).
 */
final class Watches {
  private final Set<Watch<?, ?>> open = ConcurrentHashMap.newKeySet();
  private ScheduledExecutorService timer; // guarded by this
  private boolean closed; // guarded by this

  Watch<WatchVmsResponse, Vm> vms(VmServiceGrpc.VmServiceStub stub,
      Map<String, String> labelSelector, long sinceRevision, WatchListener<Vm> listener) {
    return start(new Watch<>((since, out) -> stub.watchVms(
        WatchVmsRequest.newBuilder().putAllLabelSelector(labelSelector).setSinceRevision(since)
            .build(), out),
        r -> new WatchEvent<>(type(r.getType().name()), r.hasVm() ? r.getVm() : null,
            r.getRevision()),
        listener, timer(), sinceRevision));
  }

  Watch<WatchNodesResponse, Node> nodes(NodeServiceGrpc.NodeServiceStub stub,
      long sinceRevision, WatchListener<Node> listener) {
    return start(new Watch<>((since, out) -> stub.watchNodes(
        WatchNodesRequest.newBuilder().setSinceRevision(since).build(), out),
        r -> new WatchEvent<>(type(r.getType().name()), r.hasNode() ? r.getNode() : null,
            r.getRevision()),
        listener, timer(), sinceRevision));
  }

  private <R, T> Watch<R, T> start(Watch<R, T> w) {
    open.add(w);
    w.whenFinished(() -> open.remove(w));
    w.start();
    boolean clientClosed;
    synchronized (this) {
      clientClosed = closed;
    }
    if (clientClosed) {
      w.close();  // the client was closed while this one started (its onEnd runs unlocked)
    }
    return w;
  }

  private synchronized ScheduledExecutorService timer() {
    if (timer == null) {
      timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "noid-watch-backoff");
        t.setDaemon(true);
        return t;
      });
    }
    return timer;
  }

  /** Ends every open watch, then the backoff timer. */
  void close() {
    synchronized (this) {
      closed = true;
    }
    for (Watch<?, ?> w : open) {
      w.close();
    }
    synchronized (this) {
      if (timer != null) {
        timer.shutdownNow();
      }
    }
  }

  private static WatchEvent.Type type(String wireName) {
    return WatchEvent.Type.valueOf(wireName.substring("EVENT_TYPE_".length()));
  }
}
