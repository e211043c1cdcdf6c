package dev.noid.controller.ha;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;
import java.util.function.Supplier;

/**
 * What this controller knows about who leads (issue 22): its role, the leader's address, the
 * lease's epoch, how often it took the lead over from another controller, and every controller's
 * address. A controller on its own (SQLite, or no HA) always leads, at epoch 0.
 */
public final class Leadership {
  /** The two roles; a controller without HA is always LEADER. */
  public enum Role { LEADER, FOLLOWER }

  /** A consistent view of the fields that change together. */
  public record View(Role role, String leaderAddress, long epoch) {}

  private final String ownAddress;
  private final Supplier<List<String>> controllers;
  private volatile View view;
  private final AtomicLong takeovers = new AtomicLong();
  private final boolean leased;
  private final LongConsumer raiseEpoch;
  private final AtomicLong outrankedBy = new AtomicLong();
  // System.nanoTime() by which the lease must have been renewed again for this leader to act.
  private volatile long renewBy;

  private Leadership(String ownAddress, View initial, Supplier<List<String>> controllers,
      boolean leased, LongConsumer raiseEpoch) {
    this.ownAddress = ownAddress;
    this.view = initial;
    this.controllers = controllers;
    this.leased = leased;
    this.raiseEpoch = raiseEpoch;
  }

  /** A controller that leads alone: no lease, epoch 0. */
  public static Leadership alone(String ownAddress) {
    return new Leadership(ownAddress, new View(Role.LEADER, ownAddress, 0), List::of, false,
        epoch -> { });
  }

  /**
   * A controller among others, a follower until it wins the lease. {@code raiseEpoch} moves
   * the lease's epoch up to one that agents have seen (see {@link #outranked}).
   */
  public static Leadership among(String ownAddress, Supplier<List<String>> controllers,
      LongConsumer raiseEpoch) {
    return new Leadership(ownAddress, new View(Role.FOLLOWER, "", 0), controllers, true,
        raiseEpoch);
  }

  public View view() {
    return view;
  }

  public boolean leads() {
    return view.role() == Role.LEADER;
  }

  /**
   * Whether this controller may act on nodes now: it leads and, among others, renewed its lease
   * recently enough that no one else can have taken it. A process that wakes from a pause longer
   * than the lease learns here, before its next call to an agent, what its election thread
   * would tell it a moment later.
   */
  public boolean mayAct() {
    return leads() && (!leased || System.nanoTime() - renewBy < 0);
  }

  /**
   * An agent refused this leader's call: it has heard of {@code epoch}, newer than this
   * leader's. Normally a newer leader exists and this one is already deposed. If not (the
   * store was restored from a backup whose lease epoch is behind the fleet's), the lease's
   * epoch is raised to it: this leader is then fenced and steps down, and the next leader
   * takes the lease above every epoch agents know, instead of every agent refusing it forever.
   */
  public void outranked(long epoch) {
    long own = view.epoch();
    if (epoch <= own || epoch >= MAX_EPOCH || epoch - own > MAX_JUMP) {
      // Not newer; or not an epoch of ours: one a next takeover could not go past without
      // overflowing revisions (revisionFloor), or further ahead than failovers since any
      // backup could have gone (a node that lies, bounded so it cannot spend the range).
      return;
    }
    outrankedBy.accumulateAndGet(epoch, Math::max);
    raiseEpoch.accept(epoch);
  }

  /** The newest epoch agents have refused this controller for; 0 when none did. */
  public long outrankedBy() {
    return outrankedBy.get();
  }

  /** The largest epoch whose revisions ({@code epoch << 40}) fit a long. */
  static final long MAX_EPOCH = (1L << 23) - 1;

  /** How far ahead of this leader's epoch an agent's may be and still be taken as real. */
  static final long MAX_JUMP = 1000;

  void renewedUntil(long nanos) {
    renewBy = nanos;
  }

  public String ownAddress() {
    return ownAddress;
  }

  /**
   * Where this leader's watch revisions start: above all a leader of an earlier epoch can have
   * issued (2^40 changes per term), so revisions stay unique and ordered across failovers even
   * for deletions, which the store does not keep. 0 without HA.
   */
  public long revisionFloor() {
    return view.epoch() << 40;
  }

  /** Times this controller took the lease over from another one. */
  public long takeovers() {
    return takeovers.get();
  }

  /** Every controller's address (agents get it at join); empty without HA. */
  public List<String> controllers() {
    return controllers.get();
  }

  void follow(String leaderAddress, long epoch) {
    view = new View(Role.FOLLOWER, leaderAddress, epoch);
  }

  void lead(long epoch) {
    if (epoch > 1) {
      takeovers.incrementAndGet();
    }
    view = new View(Role.LEADER, ownAddress, epoch);
  }

  void stepDown() {
    view = new View(Role.FOLLOWER, "", view.epoch());
  }
}
