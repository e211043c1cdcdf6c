package dev.noid.controller.ha;

import dev.noid.controller.config.ControllerConfig;
import dev.noid.controller.pki.ClusterPki;
import dev.noid.controller.store.PostgresStore;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One controller among several on a shared PostgreSQL store (issue 22). It follows until it
 * wins the lease, then runs the whole controller over the fenced store; the domain loads its
 * state (VMs, reservations, nodes, the scheduler's view) from the store as it starts. A leader
 * that loses the lease does not try to become a follower again in place: it refuses every write
 * and exits with {@link #EXIT_DEPOSED}, and its supervisor starts it again as a follower, as
 * Kubernetes' controller-manager does. Half-torn-down in-memory state never serves anything.
 */
public final class HaController {
  private static final Logger log = LoggerFactory.getLogger(HaController.class);
  /** EX_TEMPFAIL: start me again. */
  public static final int EXIT_DEPOSED = 75;
  private static final Duration RECENT = Duration.ofSeconds(30);

  /** The part that runs while this controller leads: the whole controller, started. */
  public interface LeaderServer {
    void stop();
  }

  /** Builds and starts the leader's server over the fenced store. */
  public interface LeaderStarter {
    LeaderServer start(ControllerConfig config, PostgresStore store, Leadership leadership);
  }

  private final ControllerConfig config;
  private final HaConfig ha;
  private final LeaderStarter starter;
  private final CountDownLatch done = new CountDownLatch(1);
  private final ScheduledExecutorService claims = timer("lease-claims");
  private final ScheduledExecutorService watchdog = timer("lease-watchdog");
  private final ScheduledExecutorService healthTimer = timer("follower-health");
  private final ScheduledExecutorService readsTimer = timer("follower-reads");
  private final ScheduledExecutorService readChecks = timer("follower-read-checks");
  private java.util.concurrent.ScheduledFuture<?> followerHealth;
  private volatile int exitCode;
  private PostgresStore store;
  private Leadership leadership;
  private FollowerServer follower;
  private LeaderElection election;
  private volatile LeaderServer leader;
  private final Object transition = new Object();
  private boolean stopping; // guarded by transition

  public HaController(ControllerConfig config, HaConfig ha, LeaderStarter starter) {
    this.config = config;
    this.ha = ha;
    this.starter = starter;
  }

  public void start() {
    store = PostgresStore.open(config.effectiveStoreUrl());
    EpochRaises raises = new EpochRaises(store::raiseEpoch, System::nanoTime);
    // On the claims thread: the next claim after the raise sees it and steps this leader down.
    leadership = Leadership.among(ha.advertiseAddress(),
        () -> store.controllerAddresses(RECENT),
        epoch -> claims.execute(() -> raises.raiseTo(leadership.outrankedBy())));
    follower = new FollowerServer(config, leadership, store::ping);
    FollowerReads reads = new FollowerReads(store, java.time.Clock.systemUTC());
    follower.start(ClusterPki.open(config), reads);
    reads.start(readsTimer, readChecks);
    // Not on the election's threads: a ping over a cut link blocks.
    followerHealth = healthTimer.scheduleWithFixedDelay(follower::updateHealth, 2, 2,
        TimeUnit.SECONDS);
    String holder = ha.advertiseAddress() + "/" + UUID.randomUUID();
    election = new LeaderElection(store, new LeaseTimes(ha.lease()), leadership, holder,
        new LeaderElection.Transitions() {
          @Override
          public void elected(long epoch) {
            // Off the claims thread: renewals go on while the controller starts.
            Thread.ofPlatform().name("take-over").start(() -> takeOver(epoch));
          }

          @Override
          public void deposed(String why) {
            store.depose(why);
            finish(EXIT_DEPOSED);
          }
        });
    log.atInfo().addKeyValue("advertise", ha.advertiseAddress())
        .log("controller {} follows until it wins the lease ({} ms)", ha.advertiseAddress(),
            ha.lease().toMillis());
    election.start(claims, watchdog);
  }


  private void takeOver(long epoch) {
    // Under the lock stop() reads the leader with: a controller that is stopping does not start
    // leading (the lease it won goes with stop's release), and one that started is stopped.
    synchronized (transition) {
      if (stopping) {
        return;
      }
      takeOverLocked(epoch);
    }
  }

  private void takeOverLocked(long epoch) {
    followerHealth.cancel(false);
    readsTimer.shutdownNow();
    readChecks.shutdownNow();
    store.fence(epoch);
    follower.stopHttps();
    if (!FollowerServer.canSharePort()) {
      follower.stopGrpc(); // the leader cannot bind the port while this listens
    }
    try {
      leader = starter.start(config, store, leadership);
      // Only now: the leader's gRPC listener shares the port, so a client that reconnects
      // finds it open and gets the leader (a closed port would cost it a reconnect backoff).
      follower.stopGrpc();
      log.atWarn().addKeyValue("epoch", epoch).log("controller {} serves as leader (epoch {})",
          ha.advertiseAddress(), epoch);
    } catch (RuntimeException e) {
      log.error("could not start as leader", e);
      election.release();
      finish(1);
    }
  }

  private void finish(int code) {
    exitCode = code;
    done.countDown();
  }

  /** Blocks until this controller stops leading or fails; returns the process's exit code. */
  public int awaitTermination() throws InterruptedException {
    done.await();
    return exitCode;
  }

  /**
   * A clean stop (SIGTERM: an upgrade, a restart) lets the calls under way finish while this
   * controller still holds the lease, then hands the lease over at once instead of letting it
   * expire. Released first, a follower took over within a claim while they ran on: each of
   * their writes failed as a lost lead, and their calls to agents raced the new leader's.
   */
  public void stop() {
    healthTimer.shutdownNow();
    readsTimer.shutdownNow();
    readChecks.shutdownNow();
    LeaderServer l;
    synchronized (transition) {
      stopping = true;
      l = leader;
    }
    if (l != null) {
      // Claims renew the lease meanwhile, and the watchdog still steps down a leader that
      // cannot renew it: the calls draining never write past the lease.
      l.stop();
    } else if (follower != null) {
      follower.stop();
    }
    claims.shutdown();
    try {
      // A claim under way when the lease is released would take it again.
      claims.awaitTermination(ha.lease().toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    watchdog.shutdownNow();
    if (election != null) {
      election.release();
    }
    if (store != null) {
      store.close();
    }
    done.countDown();
  }

  private static ScheduledExecutorService timer(String name) {
    return Executors.newSingleThreadScheduledExecutor(
        Thread.ofPlatform().name(name).daemon().factory());
  }
}
