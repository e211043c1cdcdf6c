package dev.noid.controller;

import com.google.inject.Guice;
import com.google.inject.Injector;
import dev.noid.common.http.HttpsEndpoint;
import dev.noid.controller.config.ControllerConfig;
import dev.noid.controller.http.HealthzHandler;
import dev.noid.controller.server.PublicGrpcServer;
import dev.noid.controller.nodes.NodeRegistry;
import dev.noid.controller.store.Store;
import dev.noid.controller.users.UserDirectory;
import dev.noid.controller.vms.service.CheckpointRetention;
import dev.noid.controller.vms.service.UnrecordedCheckpoints;
import dev.noid.controller.vms.service.Reconciler;
import jakarta.inject.Inject;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Starts and stops the controller's listeners in order; health follows the lifecycle. */
public final class ControllerServer {
  private static final Logger log = LoggerFactory.getLogger(ControllerServer.class);

  private final ControllerConfig config;
  private final PublicGrpcServer grpc;
  private final HttpsEndpoint https;
  private final HealthzHandler healthz;

  private final NodeRegistry nodes;
  private final Reconciler vms;
  private final CheckpointRetention retention;
  private final AtomicBoolean retaining = new AtomicBoolean();
  private final UnrecordedCheckpoints unrecorded;
  private final AtomicBoolean sweeping = new AtomicBoolean();
  private final Store store;
  private final UserDirectory users;
  private final ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor(
      Thread.ofPlatform().name("controller-timers").daemon().factory());
  // Their own threads: a reconcile that waits on slow nodes must delay neither lease expiry
  // and health nor ending a rotated token's streams.
  private final ScheduledExecutorService tokenChecks = Executors.newSingleThreadScheduledExecutor(
      Thread.ofPlatform().name("controller-token-checks").daemon().factory());
  private final ScheduledExecutorService reconciles = Executors.newSingleThreadScheduledExecutor(
      Thread.ofPlatform().name("controller-reconcile").daemon().factory());

  @Inject
  ControllerServer(ControllerConfig config, PublicGrpcServer grpc, HttpsEndpoint https,
      HealthzHandler healthz, NodeRegistry nodes, Reconciler vms, Store store,
      CheckpointRetention retention, UnrecordedCheckpoints unrecorded, UserDirectory users) {
    this.retention = retention;
    this.unrecorded = unrecorded;
    this.users = users;
    this.nodes = nodes;
    this.vms = vms;
    this.store = store;
    this.config = config;
    this.grpc = grpc;
    this.https = https;
    this.healthz = healthz;
  }

  public static ControllerServer create(ControllerConfig config) {
    return create(new ControllerModule(config));
  }

  static ControllerServer create(ControllerModule module) {
    Injector injector = Guice.createInjector(module);
    return injector.getInstance(ControllerServer.class);
  }

  public void start() {
    grpc.start();
    try {
      https.start();
    } catch (RuntimeException e) {
      grpc.stop();
      throw e;
    }
    updateHealth();
    healthz.setServing(true);
    timers.scheduleWithFixedDelay(this::updateHealth, 2, 2, TimeUnit.SECONDS);
    timers.scheduleWithFixedDelay(this::expireLeases, 1, 1, TimeUnit.SECONDS);
    tokenChecks.scheduleWithFixedDelay(this::checkTokens, 0, 1, TimeUnit.SECONDS);
    // Work a crash left half done is finished once agents have had a lease to report in.
    reconciles.schedule(this::reconcile, nodes.lease().toMillis(), TimeUnit.MILLISECONDS);
    reconciles.scheduleWithFixedDelay(this::reconcile, 60, 60, TimeUnit.SECONDS);
    timers.scheduleWithFixedDelay(this::applyRetention, 30, 60, TimeUnit.SECONDS);
    // Each pass lists every ready node's checkpoints: seldom, since what it mends is rare; the
    // first once agents have reported in, for checkpoints a stopped leader left CREATING.
    timers.scheduleWithFixedDelay(() -> sweepCheckpoints(unrecorded::sweep),
        nodes.lease().toMillis(), TimeUnit.MINUTES.toMillis(10), TimeUnit.MILLISECONDS);
    // A checkpoint whose node died under it is settled soon after the node is back.
    timers.scheduleWithFixedDelay(() -> sweepCheckpoints(unrecorded::settleCreating),
        nodes.lease().toMillis(), TimeUnit.SECONDS.toMillis(20), TimeUnit.MILLISECONDS);
    log.atInfo().addKeyValue("grpc_port", grpc.port()).addKeyValue("https_port", https.port())
        .addKeyValue("data_dir", config.dataDir().toString())
        .log("noid-controller {} serving", Version.current());
  }

  private void updateHealth() {
    try {
      grpc.updateHealth(store.ping(), nodes.view().stream().anyMatch(n -> n.ready()));
    } catch (RuntimeException e) {
      log.warn("health update failed", e);
    }
  }

  private void expireLeases() {
    try {
      nodes.expireLeases();
    } catch (RuntimeException e) {
      log.warn("lease check failed", e);
    }
  }

  // A host command beside this controller (`users rotate`) changes a token in the store only.
  private void checkTokens() {
    try {
      users.checkForChangesElsewhere();
    } catch (RuntimeException e) {
      log.debug("token check failed", e);
    }
  }

  private void reconcile() {
    try {
      vms.reconcile();
    } catch (RuntimeException e) {
      log.warn("reconcile failed", e);
    }
  }

  // Off the timers' thread too: a node that does not answer holds a pass up to its deadline.
  private void sweepCheckpoints(Runnable pass) {
    if (!sweeping.compareAndSet(false, true)) {
      return;
    }
    Thread.ofVirtual().name("checkpoint-sweep").start(() -> {
      try {
        pass.run();
      } catch (RuntimeException e) {
        log.warn("checkpoint sweep failed", e);
      } finally {
        sweeping.set(false);
      }
    });
  }

  // Off the timers' thread: deleting a checkpoint waits on its nodes.
  private void applyRetention() {
    if (!retaining.compareAndSet(false, true)) {
      return; // the last pass is still deleting
    }
    Thread.ofVirtual().name("checkpoint-retention").start(() -> {
      try {
        retention.apply();
      } catch (RuntimeException e) {
        log.warn("checkpoint retention failed", e);
      } finally {
        retaining.set(false);
      }
    });
  }

  public void awaitTermination() throws InterruptedException {
    grpc.awaitTermination();
  }

  public void stop() {
    stopServing();
    store.close();
  }

  /**
   * Everything {@link #stop()} does but close the store: a leader among several still renews its
   * lease through it while the calls under way finish, and releases the lease after.
   */
  public void stopServing() {
    log.info("noid-controller stopping");
    healthz.setServing(false);
    timers.shutdownNow();
    tokenChecks.shutdownNow();
    reconciles.shutdownNow();
    https.close();
    grpc.stop();
  }
}
