package dev.noid.controller.api;

import dev.noid.controller.domain.NoidException;
import io.grpc.Status;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The long-lived calls each user has open (watches, execs, consoles): at most a fixed number
 * of each kind per user (issue 19 H4), and all of a user's ended at once when their token is
 * rotated or revoked (issue 19 M5), so a stream never outlives the credential that opened it.
 */
public final class OpenStreams {
  /** A kind of stream and how many of it one user may have open at once. */
  public enum Kind {
    WATCH(16, "watch"), EXEC(32, "exec"), CONSOLE(8, "console");

    final int perUser;
    final String label;

    Kind(int perUser, String label) {
      this.perUser = perUser;
      this.label = label;
    }

    public int perUser() {
      return perUser;
    }
  }

  /** One open stream; closing it (idempotent) frees its slot. */
  public final class Registration implements AutoCloseable {
    private final String user;
    private final Kind kind;
    private final Consumer<Status> end;

    private Registration(String user, Kind kind, Consumer<Status> end) {
      this.user = user;
      this.kind = kind;
      this.end = end;
    }

    @Override
    public void close() {
      synchronized (OpenStreams.this) {
        Set<Registration> mine = open.get(user);
        if (mine != null && mine.remove(this) && mine.isEmpty()) {
          open.remove(user);
        }
      }
    }
  }

  private final Map<String, Set<Registration>> open = new HashMap<>();
  private final Runnable stillServes;

  public OpenStreams() {
    this(() -> { });
  }

  /**
   * {@code stillServes} throws when no stream may start any more (a follower whose replica went
   * stale); it runs after each registration, as the token's check does, and for the same reason.
   */
  public OpenStreams(Runnable stillServes) {
    this.stillServes = stillServes;
  }

  /**
   * Registers a stream of {@code user}; {@code end} ends it with a status if it is revoked.
   * LIMIT_EXCEEDED (RESOURCE_EXHAUSTED) naming the limit when the user has as many open.
   */
  public Registration open(String user, Kind kind, Consumer<Status> end) {
    Registration r = register(user, kind, end);
    // Checked after registering: a rotation this check does not see revokes after the
    // registration, and ends the stream. Checked before, one in between left it running.
    boolean started = false;
    try {
      TokenCheck token = AuthInterceptor.TOKEN_CHECK.get();
      if (token != null && !token.stillHolds()) {
        throw new NoidException(NoidException.Code.UNAUTHENTICATED, "the token this call was"
            + " opened with was rotated or revoked before its stream started");
      }
      stillServes.run();
      started = true;
      return r;
    } finally {
      if (!started) {
        r.close();
      }
    }
  }

  private synchronized Registration register(String user, Kind kind, Consumer<Status> end) {
    Set<Registration> mine = open.computeIfAbsent(user, u -> new LinkedHashSet<>());
    long same = mine.stream().filter(r -> r.kind == kind).count();
    if (same >= kind.perUser) {
      if (mine.isEmpty()) {
        open.remove(user);
      }
      throw new NoidException(NoidException.Code.LIMIT_EXCEEDED, "at most " + kind.perUser
          + " concurrent " + kind.label + " streams per user; close one first");
    }
    Registration r = new Registration(user, kind, end);
    mine.add(r);
    return r;
  }

  /** Ends every stream {@code user} has open, telling each client {@code why}. */
  public void revoke(String user, String why) {
    List<Registration> ending;
    synchronized (this) {
      Set<Registration> mine = open.remove(user);
      ending = mine == null ? List.of() : List.copyOf(mine);
    }
    Status status = Status.UNAUTHENTICATED.withDescription(why);
    for (Registration r : ending) {
      r.end.accept(status);
    }
  }

  /** Ends every open stream of every user with {@code status} (a follower that lost the store). */
  public void endAll(Status status) {
    List<Registration> ending;
    synchronized (this) {
      ending = open.values().stream().flatMap(Set::stream).toList();
      open.clear();
    }
    for (Registration r : ending) {
      r.end.accept(status);
    }
  }

  /** How many streams of {@code kind} the user has open. */
  public synchronized int count(String user, Kind kind) {
    Set<Registration> mine = open.get(user);
    return mine == null ? 0 : (int) mine.stream().filter(r -> r.kind == kind).count();
  }
}
