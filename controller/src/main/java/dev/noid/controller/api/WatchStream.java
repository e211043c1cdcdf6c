package dev.noid.controller.api;

import dev.noid.controller.watch.ChangeFeed;
import dev.noid.controller.watch.Watchable;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * One Watch call (WatchVms, WatchNodes): a snapshot (or the replay since a revision), a
 * SYNCED marker, then every matching change. Changes queue per watcher (bounded); one sender
 * thread writes them as the client can take them. A watcher too slow to keep up is ended
 * with RESOURCE_EXHAUSTED naming the revision to resume from, rather than holding memory
 * forever.
 *
 * @param <T> the watched item, as the controller keeps it
 * @param <R> the response message of the call
 */
public final class WatchStream<T, R> implements Consumer<ChangeFeed.Event<T>> {
  static final int QUEUE = 10_000;

  /** How one kind of item becomes the call's responses. */
  public interface Responses<T, R> {
    R existing(T item);

    R change(ChangeFeed.Event<T> event);

    R synced(long revision);
  }

  private final String name;
  private final Predicate<T> matches;
  private final Responses<T, R> responses;
  private final ServerCallStreamObserver<R> out;
  private final Watchable<T> source;
  private final BlockingQueue<R> queue = new ArrayBlockingQueue<>(QUEUE);
  private final Semaphore ready = new Semaphore(0);
  private volatile boolean done;
  private volatile long lastQueued;

  public WatchStream(String name, Predicate<T> matches, Responses<T, R> responses,
      ServerCallStreamObserver<R> out, Watchable<T> source) {
    this.name = name;
    this.matches = matches;
    this.responses = responses;
    this.out = out;
    this.source = source;
    out.setOnReadyHandler(ready::release);
    out.setOnCancelHandler(this::stop);
  }

  public void start(long since) {
    ChangeFeed.Watch<T> w = source.watch(since, this);
    // The snapshot/replay goes first; live events that arrived meanwhile wait in the queue,
    // which is safe because the source gave both atomically.
    Thread.ofVirtual().name("watch-" + name).start(() -> send(w));
  }

  @Override
  public void accept(ChangeFeed.Event<T> e) {
    if (done || !matches.test(e.item())) {
      return;
    }
    if (!queue.offer(responses.change(e))) {
      done = true;
    } else {
      lastQueued = e.revision();
    }
  }

  private void send(ChangeFeed.Watch<T> w) {
    try {
      if (w.snapshot() != null) {
        for (T item : w.snapshot()) {
          if (matches.test(item)) {
            write(responses.existing(item));
          }
        }
      } else {
        for (ChangeFeed.Event<T> e : w.replay()) {
          if (matches.test(e.item())) {
            write(responses.change(e));
          }
        }
      }
      // Everything up to this revision has been sent; the queue holds only later changes.
      write(responses.synced(w.revision()));
      while (!out.isCancelled()) {
        if (done && queue.isEmpty()) {
          synchronized (out) {
            out.onError(Status.RESOURCE_EXHAUSTED.withDescription(
                "watch fell behind; resume with since_revision=" + lastQueued).asRuntimeException());
          }
          return;
        }
        R next = queue.poll(1, TimeUnit.SECONDS);
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

  private void write(R r) throws InterruptedException {
    while (!out.isReady() && !out.isCancelled()) {
      ready.tryAcquire(1, TimeUnit.SECONDS);
    }
    synchronized (out) {
      out.onNext(r);
    }
  }

  private void stop() {
    source.unwatch(this);
  }
}
