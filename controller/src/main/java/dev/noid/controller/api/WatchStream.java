package dev.noid.controller.api;

import dev.noid.controller.watch.ChangeFeed;
import dev.noid.controller.watch.Watchable;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * One Watch call (WatchVms, WatchNodes): a snapshot (or the replay since a revision), a
 * SYNCED marker, then every matching change. One sender thread per call reads the source's
 * history from the last revision it sent and writes as fast as the client takes it: nothing
 * queues per watcher, and no watcher code runs when a change is published. A client too slow
 * to keep up with the history (or not reading at all) is ended with RESOURCE_EXHAUSTED naming
 * the revision to resume from, instead of being waited for (issue 19 H4). Each user has at
 * most {@link OpenStreams.Kind#WATCH} watches open; revoking the user's token ends them.
 *
 * @param <T> the watched item, as the controller keeps it
 * @param <R> the response message of the call
 */
public final class WatchStream<T, R> {
  static final int BATCH = 256;
  private static final long POLL_MILLIS = 1_000;

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
  private final Semaphore ready = new Semaphore(0);
  private volatile boolean ended;
  private volatile long sent;
  private Predicate<T> replayed = item -> true;

  public WatchStream(String name, Predicate<T> matches, Responses<T, R> responses,
      ServerCallStreamObserver<R> out, Watchable<T> source) {
    this.name = name;
    this.matches = matches;
    this.responses = responses;
    this.out = out;
    this.source = source;
    out.setOnReadyHandler(ready::release);
    out.setOnCancelHandler(() -> {
      ended = true;
      ready.release();
    });
  }

  /**
   * Narrows a replay (the history a resumed watch is sent) beyond {@code matches}: history may
   * hold items that matched an earlier holder of the caller's name. Nothing later can: the
   * caller existed when the watch started. Before {@link #start}.
   */
  public WatchStream<T, R> replaying(Predicate<T> also) {
    this.replayed = also;
    return this;
  }

  /** Starts the call for {@code user}, or ends it at once if they have as many watches open. */
  public void start(long since, OpenStreams streams, String user) {
    OpenStreams.Registration registration;
    try {
      registration = streams.open(user, OpenStreams.Kind.WATCH, this::end);
    } catch (RuntimeException e) {
      // Refused (its limit, its token), or the store failed the token's check: through the
      // one mapper. A revoke that ended it while it registered has answered already.
      end(GrpcStatusMapper.toStatus(e).getStatus());
      return;
    }
    ChangeFeed.Watch<T> w;
    try {
      w = source.watch(since);
    } catch (RuntimeException e) {
      // A follower catching up on a revision ahead of it reads the store, which may fail:
      // through the one mapper, not as grpc's bare UNKNOWN.
      registration.close();
      ended = true;
      out.onError(GrpcStatusMapper.toStatus(e));
      return;
    }
    Thread.ofVirtual().name("watch-" + name).start(() -> {
      try {
        send(w);
      } finally {
        registration.close();
      }
    });
  }

  /** Ends the call with {@code status} (its user's token was revoked). */
  void end(Status status) {
    if (!ended) {
      ended = true;
      ready.release();
      close(status);
    }
  }

  private void send(ChangeFeed.Watch<T> w) {
    sent = w.revision();
    try {
      if (w.snapshot() != null) {
        List<T> items = new ArrayList<>();
        for (T item : w.snapshot()) {
          if (matches.test(item)) {
            items.add(item);
          }
        }
        items.sort(source.order());
        for (T item : items) {
          write(responses.existing(item));
        }
      } else {
        for (ChangeFeed.Event<T> e : w.replay()) {
          if (matches.test(e.item()) && replayed.test(e.item())) {
            write(responses.change(e));
          }
        }
      }
      write(responses.synced(w.revision()));
      while (!ended) {
        for (ChangeFeed.Event<T> e : source.changes().next(sent, BATCH, POLL_MILLIS)) {
          if (matches.test(e.item())) {
            write(responses.change(e));
          }
          sent = e.revision();
        }
      }
    } catch (ChangeFeed.FellBehind e) {
      if (!ended) {
        ended = true;
        close(Status.RESOURCE_EXHAUSTED.withDescription(
            "watch fell behind; resume with since_revision=" + sent));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      // the call ended under us (cancelled); nothing left to tell the client
    }
  }

  // Waits for the client to take more, but not past the point where the changes it has yet
  // to see drop out of the history: then it could never catch up.
  private void write(R r) throws InterruptedException, ChangeFeed.FellBehind {
    while (!out.isReady()) {
      if (ended) {
        throw new IllegalStateException("ended");
      }
      if (source.changes().behind(sent)) {
        throw new ChangeFeed.FellBehind(sent);
      }
      ready.tryAcquire(POLL_MILLIS, TimeUnit.MILLISECONDS);
    }
    if (ended) {
      throw new IllegalStateException("ended");
    }
    synchronized (out) {
      out.onNext(r);
    }
  }

  private void close(Status status) {
    synchronized (out) {
      try {
        out.onError(status.asRuntimeException());
      } catch (IllegalStateException alreadyClosed) {
        // cancelled by the client meanwhile
      }
    }
  }
}
