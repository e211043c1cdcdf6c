package dev.noid.client;

import io.grpc.Context;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BiConsumer;
import java.util.function.Function;

/**
 * A watch that outlives its connection: when the stream breaks (controller restart, network,
 * a watcher that fell behind) it reconnects after a backoff and resumes from the last
 * revision it delivered, so the listener misses nothing and sees nothing twice.
 *
 * @param <R> the call's response message
 * @param <T> the watched item
 */
public final class Watch<R, T> implements AutoCloseable {
  /** Codes after which a new call may well succeed. */
  private static final Set<Status.Code> RESUMABLE = Set.of(Status.Code.UNAVAILABLE,
      Status.Code.RESOURCE_EXHAUSTED, Status.Code.DEADLINE_EXCEEDED, Status.Code.INTERNAL,
      Status.Code.UNKNOWN, Status.Code.ABORTED);
  private static final Duration FIRST_BACKOFF = Duration.ofMillis(200);
  private static final Duration MAX_BACKOFF = Duration.ofSeconds(5);

  private final BiConsumer<Long, StreamObserver<R>> call;
  private final Function<R, WatchEvent<T>> events;
  private final WatchListener<T> listener;
  private final ScheduledExecutorService timer;
  /**
   * Set once, by whichever ends the watch first. Never waited for under the lock: close() must
   * not wait on a listener that is running (it may be the one closing the client).
   */
  private final AtomicBoolean closed = new AtomicBoolean();
  private volatile Context.CancellableContext current;
  /** The revision the listener's view is complete up to; 0 = nothing yet, a snapshot is due. */
  private long resumeFrom;
  private boolean synced;
  private Duration backoff = FIRST_BACKOFF;
  private volatile Runnable finished = () -> { };
  /**
   * Held while the listener is called and the resume state changes. close() never waits for
   * it: it leaves its onEnd to whoever holds it, so onEnd still comes once and last.
   */
  private final ReentrantLock delivery = new ReentrantLock();
  private final AtomicBoolean endPending = new AtomicBoolean();

  Watch(BiConsumer<Long, StreamObserver<R>> call, Function<R, WatchEvent<T>> events,
      WatchListener<T> listener, ScheduledExecutorService timer, long since) {
    this.call = call;
    this.events = events;
    this.listener = listener;
    this.timer = timer;
    this.resumeFrom = since;
  }

  void start() {
    if (closed.get()) {
      return;
    }
    Context.CancellableContext ctx = Context.current().withCancellation();
    current = ctx;
    if (closed.get()) {
      ctx.cancel(null);  // closed while this start was on its way: close() cancelled the last
      return;
    }
    synced = false;
    ctx.run(() -> call.accept(resumeFrom, new StreamObserver<R>() {
      @Override
      public void onNext(R r) {
        deliver(events.apply(r));
      }

      @Override
      public void onError(Throwable t) {
        ended(Status.fromThrowable(t), t);
      }

      @Override
      public void onCompleted() {
        ended(Status.UNAVAILABLE.withDescription("the controller ended the watch"), null);
      }
    }));
  }

  private void deliver(WatchEvent<T> e) {
    delivery.lock();
    try {
      if (closed.get()) {
        return;
      }
      switch (e.type()) {
        case SYNCED -> {
          synced = true;
          backoff = FIRST_BACKOFF;
          resumeFrom = e.revision();
        }
        case ADDED, MODIFIED, DELETED -> resumeFrom = e.revision();
        // Snapshot items carry their own (older) revisions: the view is complete only at SYNCED.
        case EXISTING -> { }
      }
      listener.onEvent(e);
    } finally {
      delivery.unlock();
    }
    endIfPending();
  }

  private void ended(Status status, Throwable t) {
    delivery.lock();
    try {
      endedLocked(status, t);
    } finally {
      delivery.unlock();
    }
    endIfPending();
  }

  private void endedLocked(Status status, Throwable t) {
    if (closed.get()) {
      return;
    }
    if (!RESUMABLE.contains(status.getCode())) {
      if (closed.compareAndSet(false, true)) {
        finished.run();
        listener.onEnd(NoidException.from(t != null ? t : status.asRuntimeException()));
      }
      return;
    }
    Duration wait = backoff;
    backoff = backoff.multipliedBy(2).compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : backoff.multipliedBy(2);
    try {
      timer.schedule(this::start, wait.toMillis(), TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      // The client is closed: no reconnect will come, so this is the end.
      if (closed.compareAndSet(false, true)) {
        finished.run();
        listener.onEnd(null);
      }
    }
  }

  /** Runs {@code r} once this watch has ended for good (at once if it has). */
  void whenFinished(Runnable r) {
    finished = r;
    if (closed.get()) {
      r.run();
    }
  }

  /** The revision a new watch could resume from to carry on where this one is. */
  public long revision() {
    delivery.lock();
    try {
      return resumeFrom;
    } finally {
      delivery.unlock();
    }
  }

  /** Whether the current connection has delivered its snapshot or replay. */
  public boolean isSynced() {
    delivery.lock();
    try {
      return synced;
    } finally {
      delivery.unlock();
    }
  }

  /**
   * Stops watching; the listener's onEnd gets null, after any event being delivered meanwhile
   * (by that delivery's thread then: close does not wait for it).
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    finished.run();
    Context.CancellableContext ctx = current;
    if (ctx != null) {
      ctx.cancel(null);
    }
    endPending.set(true);
    endIfPending();
  }

  // Every holder of the delivery lock calls this after releasing it, so a pending end is never
  // left: either close() gets the lock, or the holder it found does. Not from inside the
  // listener (a close from onEvent): its delivery ends it once onEvent returns.
  private void endIfPending() {
    while (endPending.get() && !delivery.isHeldByCurrentThread() && delivery.tryLock()) {
      try {
        if (endPending.compareAndSet(true, false)) {
          listener.onEnd(null);
        }
      } finally {
        delivery.unlock();
      }
    }
  }
}
