package dev.noid.controller.store;

import java.time.Duration;
import java.util.List;

/**
 * The leader's lease and its fence, in the store every controller shares (issue 22). One row
 * holds the leader: holder, address, epoch and expiry on the database's clock. The controller
 * that takes the lease over bumps the epoch, and once a store is {@linkplain #fence fenced} at
 * an epoch every transaction first checks that the epoch still holds the lease, under a shared
 * row lock that a takeover's update must wait for: a deposed leader can never write.
 */
public interface ControllerLease {
  /** Who holds the lease after a claim; {@code mine} when the caller does. */
  record Holder(String holder, String address, long epoch, boolean mine) {}

  /**
   * Renews the lease when {@code holder} has it, takes it when it is free or expired (with
   * the next epoch), and otherwise reports who has it. Also records {@code address} as a
   * controller of the cluster. Never fenced: a follower calls it to become leader.
   */
  Holder claim(String holder, String address, Duration ttl);

  /** Addresses of controllers that claimed within {@code recent}, the caller's own included. */
  List<String> controllerAddresses(Duration recent);

  /** From now on every transaction checks that {@code epoch} still holds the lease. */
  void fence(long epoch);

  /**
   * Refuses every transaction from now on, and aborts those in flight, with {@code why}: the
   * controller stepped down (it could not renew in time).
   */
  void depose(String why);

  /**
   * Moves the lease's epoch up to {@code epoch} if it is behind (never down): agents have seen
   * that epoch, so a leader below it is refused by them. Whoever holds the lease is fenced by
   * the change; the next takeover comes after {@code epoch}. Whether the epoch moved.
   */
  boolean raiseEpoch(long epoch);

  /** Ends the lease at once if {@code holder} has it: a controller that stops hands over. */
  void release(String holder);
}
