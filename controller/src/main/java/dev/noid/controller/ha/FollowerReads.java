package dev.noid.controller.ha;

import dev.noid.controller.api.AuthInterceptor;
import dev.noid.controller.api.MalformedRequests;
import dev.noid.controller.api.OpenStreams;
import dev.noid.controller.store.Store;
import dev.noid.controller.users.LoginLimiter;
import dev.noid.controller.users.UserDirectory;
import dev.noid.controller.vms.grpc.VmReads;
import dev.noid.controller.vms.store.VmReplica;
import io.grpc.ServerServiceDefinition;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The reads a follower serves (issue 22): GetVm, ListVms and WatchVms, from a replica of the
 * VMs kept by reading the store's change log every {@link #POLL}, for callers authenticated
 * against the store's users as on the leader. A token rotated or revoked on the leader ends its
 * user's watches here too, and the calls it opened whose request is yet to come, within a
 * poll of the users. Everything else goes to the leader.
 */
final class FollowerReads {
  private static final Logger log = LoggerFactory.getLogger(FollowerReads.class);
  static final Duration POLL = Duration.ofMillis(200);
  private static final Duration USERS_POLL = Duration.ofSeconds(1);
  /** Past this without reaching the store, the replica refuses reads. */
  static final Duration STALE = Duration.ofSeconds(5);

  private final Store store;
  private final VmReplica replica;
  private final OpenStreams streams;
  private final UserDirectory users;
  private final AuthInterceptor auth;
  private volatile boolean failing;
  private volatile boolean stale;

  FollowerReads(Store store, Clock clock) {
    this.store = store;
    this.replica = new VmReplica(store, clock, STALE);
    // A watch that passed its check as the replica went stale, and registered after the open
    // ones were ended, would otherwise sit silent for the whole outage.
    this.streams = new OpenStreams(replica::requireCurrent);
    this.users = new UserDirectory(store, new LoginLimiter(LoginLimiter.PER_CALLER,
        LoginLimiter.GLOBAL, Duration.ofSeconds(60), LoginLimiter.MAX_CALLERS, clock), clock);
    users.onRevocation(streams::revoke);
    this.auth = new AuthInterceptor(users);
    users.checkForChangesElsewhere();
  }

  /** The read services. */
  ServerServiceDefinition service() {
    return MalformedRequests.refusedAsInvalid(new VmReads(replica, streams).bindReadsOnly());
  }

  /**
   * Authentication against the store's users, for every call the follower takes (its reads and
   * the calls it forwards: a bad token is refused here, and counted against its caller's address,
   * before anything reaches the leader).
   */
  AuthInterceptor auth() {
    return auth;
  }

  /**
   * {@code polls} reads the store's changes; {@code checks} the users and the replica's age. Two
   * threads: a poll that hangs on a cut link throws nothing, and must stop neither the end of
   * watches gone stale nor that of a rotated token's streams.
   */
  void start(ScheduledExecutorService polls, ScheduledExecutorService checks) {
    polls.scheduleWithFixedDelay(this::poll, POLL.toMillis(), POLL.toMillis(),
        TimeUnit.MILLISECONDS);
    checks.scheduleWithFixedDelay(this::checkTokens, USERS_POLL.toMillis(), USERS_POLL.toMillis(),
        TimeUnit.MILLISECONDS);
    checks.scheduleWithFixedDelay(this::endWatchesOnceStale, POLL.toMillis(), POLL.toMillis(),
        TimeUnit.MILLISECONDS);
  }

  void poll() {
    try {
      replica.poll();
      stale = false;
      if (failing) {
        failing = false;
        log.info("follower reads the store's VM changes again");
      }
    } catch (RuntimeException e) {
      if (!failing) {
        failing = true;
        log.warn("follower cannot read the store's VM changes: {}", e.getMessage());
      }
      endWatchesOnceStale();
    }
  }

  // Watches would go silent: end them, so that their clients resume on a controller that
  // reaches the store.
  void endWatchesOnceStale() {
    if (stale) {
      return;
    }
    try {
      replica.requireCurrent();
    } catch (RuntimeException notCurrent) {
      stale = true;
      streams.endAll(io.grpc.Status.UNAVAILABLE.withDescription(notCurrent.getMessage()));
    }
  }

  private void checkTokens() {
    try {
      users.checkForChangesElsewhere();
    } catch (RuntimeException e) {
      log.debug("follower cannot read the users", e);
    }
  }

}
