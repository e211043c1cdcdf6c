package dev.noid.controller.api;

import dev.noid.api.v1.WatchVmsResponse;
import dev.noid.api.v1.WatchVmsResponse.EventType;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.vms.VmEvents;
import dev.noid.controller.vms.VmTable;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * One WatchVms call: a snapshot (or the replay since a revision), a SYNCED marker, then every
 * change of the caller's VMs. Changes queue per watcher (bounded); one sender thread writes
 * them as the client can take them. A watcher too slow to keep up is ended with
 * RESOURCE_EXHAUSTED naming the revision to resume from, rather than holding memory forever.
 */
final class WatchStream implements Consumer<VmEvents.Event> {
  static final int QUEUE = 10_000;

  private final String owner;
  private final Map<String, String> selector;
  private final ServerCallStreamObserver<WatchVmsResponse> out;
  private final VmTable table;
  private final BlockingQueue<WatchVmsResponse> queue = new ArrayBlockingQueue<>(QUEUE);
  private final Semaphore ready = new Semaphore(0);
  private volatile boolean done;
  private volatile long lastQueued;

  WatchStream(String owner, Map<String, String> selector, ServerCallStreamObserver<WatchVmsResponse> out,
      VmTable table) {
    this.owner = owner;
    this.selector = selector;
    this.out = out;
    this.table = table;
    out.setOnReadyHandler(ready::release);
    out.setOnCancelHandler(this::stop);
  }

  private boolean matches(VmEntry e) {
    return e.owner().equals(owner) && selector.entrySet().stream()
        .allMatch(l -> l.getValue().equals(e.labels().get(l.getKey())));
  }

  void start(long since) {
    VmTable.Watch w = table.watch(since, this);
    // The snapshot/replay goes first; live events that arrived meanwhile wait in the queue,
    // which is safe because the table gave both atomically.
    Thread.ofVirtual().name("watch-" + owner).start(() -> send(w));
  }

  @Override
  public void accept(VmEvents.Event e) {
    if (done || !matches(e.vm())) {
      return;
    }
    if (!queue.offer(response(e))) {
      done = true;
    } else {
      lastQueued = e.revision();
    }
  }

  private void send(VmTable.Watch w) {
    try {
      if (w.snapshot() != null) {
        for (VmEntry e : w.snapshot()) {
          if (matches(e)) {
            write(WatchVmsResponse.newBuilder().setType(EventType.EVENT_TYPE_EXISTING)
                .setVm(ProtoMapper.vm(e)).setRevision(e.revision()).build());
          }
        }
      } else {
        for (VmEvents.Event e : w.replay()) {
          if (matches(e.vm())) {
            write(response(e));
          }
        }
      }
      // Everything up to this revision has been sent; the queue holds only later changes.
      write(WatchVmsResponse.newBuilder().setType(EventType.EVENT_TYPE_SYNCED)
          .setRevision(w.revision()).build());
      while (!out.isCancelled()) {
        if (done && queue.isEmpty()) {
          synchronized (out) {
            out.onError(Status.RESOURCE_EXHAUSTED.withDescription(
                "watch fell behind; resume with since_revision=" + lastQueued).asRuntimeException());
          }
          return;
        }
        WatchVmsResponse next = queue.poll(1, TimeUnit.SECONDS);
        if (next != null) {
          write(next);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      // the call ended under us (cancelled); nothing left to tell the client
    } finally {
      stop();
    }
  }

  private static WatchVmsResponse response(VmEvents.Event e) {
    EventType type = switch (e.type()) {
      case ADDED -> EventType.EVENT_TYPE_ADDED;
      case MODIFIED -> EventType.EVENT_TYPE_MODIFIED;
      case DELETED -> EventType.EVENT_TYPE_DELETED;
    };
    return WatchVmsResponse.newBuilder().setType(type).setVm(ProtoMapper.vm(e.vm()))
        .setRevision(e.revision()).build();
  }

  private void write(WatchVmsResponse r) throws InterruptedException {
    while (!out.isReady() && !out.isCancelled()) {
      ready.tryAcquire(1, TimeUnit.SECONDS);
    }
    synchronized (out) {
      out.onNext(r);
    }
  }

  private void stop() {
    table.unwatch(this);
  }
}
