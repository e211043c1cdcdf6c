package dev.noid.controller.ha;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
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

  private Leadership(String ownAddress, View initial, Supplier<List<String>> controllers) {
    this.ownAddress = ownAddress;
    this.view = initial;
    this.controllers = controllers;
  }

  /** A controller that leads alone: no lease, epoch 0. */
  public static Leadership alone(String ownAddress) {
    return new Leadership(ownAddress, new View(Role.LEADER, ownAddress, 0), List::of);
  }

  /** A controller among others, a follower until it wins the lease. */
  public static Leadership among(String ownAddress, Supplier<List<String>> controllers) {
    return new Leadership(ownAddress, new View(Role.FOLLOWER, "", 0), controllers);
  }

  public View view() {
    return view;
  }

  public boolean leads() {
    return view.role() == Role.LEADER;
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
