package dev.noid.controller.ha;

import dev.noid.controller.store.ControllerLease;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Claims the lease every {@link LeaseTimes#renewEvery()}: a follower takes it once it expires, a
 * leader renews it. A leader that has not renewed within {@link LeaseTimes#renewDeadline()}
 * steps down before its lease can run out, so two leaders never believe they lead at once; the
 * store's fence covers the rest (a paused process that wakes after a takeover).
 */
public final class LeaderElection {
  private static final Logger log = LoggerFactory.getLogger(LeaderElection.class);

  /** What the controller does when its role changes. */
  public interface Transitions {
    void elected(long epoch);

    void deposed(String why);
  }

  private final ControllerLease lease;
  private final LeaseTimes times;
  private final Leadership leadership;
  private final String holder;
  private final Transitions transitions;
  // Whether this controller leads, and at which epoch, is the Leadership's view.
  private volatile long lastRenewed;
  private final java.util.concurrent.atomic.AtomicBoolean over =
      new java.util.concurrent.atomic.AtomicBoolean();

  public LeaderElection(ControllerLease lease, LeaseTimes times, Leadership leadership,
      String holder, Transitions transitions) {
    this.lease = lease;
    this.times = times;
    this.leadership = leadership;
    this.holder = holder;
    this.transitions = transitions;
  }

  /**
   * Claims on {@code claims}; {@code watchdog} checks the renew deadline on its own thread,
   * because a claim over a cut link can block far longer than the lease.
   */
  public void start(ScheduledExecutorService claims, ScheduledExecutorService watchdog) {
    // Both executors must be this election's own: a task of someone else's that blocks on the
    // store would hold the deadline check up with it.
    long every = times.renewEvery().toMillis();
    claims.scheduleWithFixedDelay(this::round, 0, every, TimeUnit.MILLISECONDS);
    watchdog.scheduleWithFixedDelay(this::checkDeadline, every, every / 2 + 1,
        TimeUnit.MILLISECONDS);
  }

  void checkDeadline() {
    long since = System.nanoTime() - lastRenewed;
    if (leadership.leads() && Duration.ofNanos(since).compareTo(times.renewDeadline()) > 0) {
      stepDown("could not renew the lease within " + times.renewDeadline().toMillis() + " ms");
    }
  }

  /** One claim; runs on the timer's single thread. */
  void round() {
    if (over.get()) {
      return;
    }
    long now = System.nanoTime();
    try {
      ControllerLease.Holder h = lease.claim(holder, leadership.ownAddress(), times.lease());
      if (h.mine()) {
        long heldEpoch = leadership.view().epoch();
        if (leadership.leads() && h.epoch() != heldEpoch) {
          // Our lease ran out and we took it again after someone else held it, or the epoch was
          // raised past ours (Leadership.outranked): the store is fenced at our old epoch and
          // what we know may be stale. Start over as a follower.
          stepDown("the lease moved on from this controller's epoch " + heldEpoch + " to epoch "
              + h.epoch());
          return;
        }
        lastRenewed = now;
        leadership.renewedUntil(now + times.renewDeadline().toNanos());
        if (!leadership.leads()) {
          leadership.lead(h.epoch());
          log.atWarn().addKeyValue("epoch", h.epoch()).log("this controller leads (epoch {})",
              h.epoch());
          transitions.elected(h.epoch());
        }
        return;
      }
      if (leadership.leads()) {
        stepDown("controller " + h.address() + " holds the lease at epoch " + h.epoch());
        return;
      }
      leadership.follow(h.address(), h.epoch());
    } catch (RuntimeException e) { // StoreException, and anything else a claim throws
      log.warn("lease claim failed: {}", e.getMessage());
      checkDeadline();
    }
  }

  private void stepDown(String why) {
    if (!over.compareAndSet(false, true)) {
      return;
    }
    leadership.stepDown();
    log.error("this controller steps down: {}", why);
    transitions.deposed(why);
  }

  /** Hands the lease over at once (a controller that stops cleanly). */
  public void release() {
    if (over.compareAndSet(false, true) && leadership.leads()) {
      // Before the lease goes: nothing left in this process may call an agent once a follower
      // can lead (agents hear of its epoch only at their next heartbeat).
      leadership.stepDown();
      try {
        lease.release(holder);
      } catch (RuntimeException e) {
        log.warn("could not release the lease: {}", e.getMessage());
      }
    }
  }
}
