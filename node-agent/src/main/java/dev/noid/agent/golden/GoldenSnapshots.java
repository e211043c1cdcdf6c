package dev.noid.agent.golden;

import dev.noid.agent.image.Image;
import dev.noid.agent.image.NodeImages;
import dev.noid.api.agent.v1.HypervisorKind;
import dev.noid.api.agent.v1.VmSpec;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.Files2;
import dev.noid.agent.vm.NodeCapacity;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's golden snapshots as the create path uses them: a checked snapshot for a VM's
 * shape, built first when there is none (one build per key however many creates wait for it),
 * and rebuilt in the background when a restore from it failed.
 *
 * <p>A snapshot being restored from is read-locked until the restore has read its files, so
 * a rebuild never swaps them under a running restore.
 *
 * <p>A build's throwaway VM takes the node's memory like any VM: it holds its shape's memory
 * and vCPUs in the node's {@link NodeCapacity} from before it boots until the build has ended,
 * however it ends. A build that does not fit in what is free is not started: its creates boot
 * cold rather than fail or over-commit the node.
 */
public final class GoldenSnapshots implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(GoldenSnapshots.class);

  /** A snapshot in use by one create; closing it lets a rebuild replace the files. */
  public record Lease(Golden golden, Lock lock) implements AutoCloseable {
    @Override
    public void close() {
      lock.unlock();
    }
  }

  private final GoldenMode mode;
  private final GoldenStore store;
  private final GoldenBuilder builder;
  private final NodeCapacity capacity;
  private final ImageDigest imageDigest;
  private final HypervisorKind hypervisor;
  private final String hypervisorVersion;
  private final Clock clock;
  private final Duration buildWait;
  private final Duration retryAfterFailure;
  private final ExecutorService background = Executors.newThreadPerTaskExecutor(
      Thread.ofVirtual().name("golden-build-", 0).factory());
  private final Map<GoldenKey, CompletableFuture<Void>> builds = new ConcurrentHashMap<>();
  private final Map<GoldenKey, Instant> failedAt = new ConcurrentHashMap<>();
  private final Map<GoldenKey, ReadWriteLock> locks = new ConcurrentHashMap<>();
  private final Set<String> badBuilds = ConcurrentHashMap.newKeySet();

  public GoldenSnapshots(GoldenMode mode, GoldenStore store, GoldenBuilder builder,
      NodeCapacity capacity, ImageDigest imageDigest, HypervisorKind hypervisor,
      String hypervisorVersion, Clock clock, Duration buildWait, Duration retryAfterFailure) {
    this.mode = mode;
    this.store = store;
    this.builder = builder;
    this.capacity = capacity;
    this.imageDigest = imageDigest;
    this.hypervisor = hypervisor;
    this.hypervisorVersion = hypervisorVersion;
    this.clock = clock;
    this.buildWait = buildWait;
    this.retryAfterFailure = retryAfterFailure;
  }

  public GoldenMode mode() {
    return mode;
  }

  public GoldenKey keyOf(VmSpec spec) {
    return new GoldenKey(spec.getImage(), spec.getCpus(), spec.getMemMib(), hypervisor,
        spec.hasNetwork() && !spec.getNetwork().getTap().isEmpty());
  }

  /**
   * A checked golden snapshot for {@code spec}'s shape, held until the lease is closed. The
   * first create of a shape waits for its snapshot to be built (or joins the build under way);
   * a stale or broken snapshot is rebuilt in the background while this create boots cold. Null
   * when golden snapshots are off, the image has no disk, or there is no usable snapshot: the
   * caller then boots cold.
   */
  public Lease acquire(Image image, VmSpec spec) {
    return acquire(image, keyOf(spec));
  }

  /** As {@link #acquire(Image, VmSpec)}, for a shape given by its key. */
  public Lease acquire(Image image, GoldenKey key) {
    if (mode == GoldenMode.OFF || image.disk() == null) {
      return null;
    }
    GoldenVersion version = new GoldenVersion(imageDigest.of(image), hypervisorVersion);
    Attempt first = tryLease(key, image, version);
    if (!first.missing() || recentlyFailed(key) || !awaitBuild(key, image, version)) {
      return first.lease();
    }
    return tryLease(key, image, version).lease();
  }

  /** A lease, or none and whether that is because the key has no snapshot at all. */
  private record Attempt(Lease lease, boolean missing) {}

  private Attempt tryLease(GoldenKey key, Image image, GoldenVersion version) {
    Lock read = lock(key).readLock();
    read.lock();
    GoldenStore.Lookup found = store.find(key, version);
    if (found instanceof GoldenStore.Found f && !badBuilds.contains(f.golden().buildId())) {
      return new Attempt(new Lease(f.golden(), read), false);
    }
    read.unlock();
    switch (found) {
      case GoldenStore.Missing m -> {
        return new Attempt(null, true);
      }
      case GoldenStore.Stale s -> log.info("golden snapshot {} is stale ({}): booting cold,"
          + " rebuilding", key.dirName(), s.reason());
      case GoldenStore.Broken b -> log.warn("golden snapshot {} is broken ({}): booting cold,"
          + " rebuilding", key.dirName(), b.reason());
      case GoldenStore.Found f -> log.info("golden snapshot {} failed a restore: booting cold"
          + " until its rebuild is done", key.dirName());
    }
    if (!recentlyFailed(key)) {
      build(key, image, version);
    }
    return new Attempt(null, false);
  }

  /**
   * A restore from {@code golden} failed: no create uses that build again, and a new one is
   * made in the background.
   */
  public void reportBroken(Golden golden, Image image, String reason) {
    log.warn("restore from golden snapshot {} (build {}) failed: {}; rebuilding it",
        golden.key().dirName(), golden.buildId(), reason);
    badBuilds.add(golden.buildId());
    build(golden.key(), image, new GoldenVersion(imageDigest.of(image), hypervisorVersion));
  }

  /**
   * At agent start: removes what a crash left half made and, in mode {@code ahead}, starts
   * building the snapshots of {@code keys} (IMAGE:CPUS:MEM_MIB) that are missing or stale.
   */
  public void start(List<String> keys, NodeImages images) {
    start(keys, images, false);
  }

  /** As {@link #start(List, NodeImages)}, for a node whose VMs get a NIC when {@code nic}. */
  public void start(List<String> keys, NodeImages images, boolean nic) {
    store.cleanUpPartial();
    if (mode == GoldenMode.AHEAD) {
      prepare(keys.stream().map(k -> GoldenKey.parse(k, hypervisor).withNic(nic)).toList(), images);
    }
  }

  // One build after the other, in the background: each throwaway VM holds its memory, and all
  // at once would leave a node with room for one build with one snapshot and the rest skipped.
  CompletableFuture<Void> prepare(List<GoldenKey> keys, NodeImages images) {
    return CompletableFuture.runAsync(() -> {
      for (GoldenKey key : keys) {
        if (Thread.currentThread().isInterrupted()) {
          return;
        }
        prepareOne(key, images);
      }
    }, background);
  }

  private void prepareOne(GoldenKey key, NodeImages images) {
    try {
      Image image = images.get(key.image());
      GoldenVersion version = new GoldenVersion(imageDigest.of(image), hypervisorVersion);
      if (!(store.find(key, version) instanceof GoldenStore.Found)) {
        log.info("building golden snapshot {} ahead of use", key.dirName());
        build(key, image, version).get();
      }
    } catch (ExecutionException e) {
      // build() has logged why (a failed build, or no room for it)
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      log.warn("cannot prepare golden snapshot {}: {}", key.dirName(), e.getMessage());
    }
  }

  /** Waits for the key's build (started here or joined); true if it succeeded in time. */
  private boolean awaitBuild(GoldenKey key, Image image, GoldenVersion version) {
    try {
      build(key, image, version).get(buildWait.toMillis(), TimeUnit.MILLISECONDS);
      return true;
    } catch (ExecutionException e) {
      return false;
    } catch (TimeoutException e) {
      log.warn("golden snapshot {} not built within {} s; booting cold", key.dirName(),
          buildWait.toSeconds());
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /**
   * The build of {@code key} under way, or a new one: never two at once for one key. A new one
   * only if its throwaway VM fits in the node's free memory, else one already failed with
   * NO_CAPACITY (not a failure of the image: the next use of the shape tries again).
   */
  CompletableFuture<Void> build(GoldenKey key, Image image, GoldenVersion version) {
    CompletableFuture<Void> mine = new CompletableFuture<>();
    CompletableFuture<Void> running = builds.putIfAbsent(key, mine);
    if (running != null) {
      return running;
    }
    NodeCapacity.Hold hold;
    try {
      hold = capacity.hold("the golden-snapshot build of " + key.dirName(), key.cpus(),
          key.memMib());
    } catch (AgentException e) {
      log.info("not building golden snapshot {} now: {}; creates of this shape boot cold until"
          + " one finds room for the build", key.dirName(), e.getMessage());
      settle(key, mine, null, e);
      return mine;
    }
    try {
      background.execute(() -> {
        try {
          buildNow(key, image, version);
          settle(key, mine, hold, null);
        } catch (RuntimeException | IOException | Error e) {
          settle(key, mine, hold, e);
        }
      });
    } catch (RejectedExecutionException e) {
      settle(key, mine, hold, e);
    }
    return mine;
  }

  // The throwaway VM is gone by now, so its memory is released before anyone waiting for the
  // build is woken: a create that waited finds it free.
  private void settle(GoldenKey key, CompletableFuture<Void> build, NodeCapacity.Hold hold,
      Throwable failure) {
    if (hold != null) {
      hold.close();
    }
    builds.remove(key, build);
    if (failure == null) {
      build.complete(null);
    } else {
      build.completeExceptionally(failure);
    }
  }

  private void buildNow(GoldenKey key, Image image, GoldenVersion version) throws IOException {
    long t = System.nanoTime();
    Path dir = store.newBuildDir();
    try {
      builder.build(key, image, dir);
      String buildId = UUID.randomUUID().toString();
      Lock write = lock(key).writeLock();
      write.lock();
      try {
        store.install(dir, key, version, buildId, clock.instant().toString());
      } finally {
        write.unlock();
      }
      failedAt.remove(key);
      log.info("golden snapshot {} built in {} ms (build {})", key.dirName(),
          (System.nanoTime() - t) / 1_000_000, buildId);
    } catch (RuntimeException | IOException | Error e) {
      failedAt.put(key, clock.instant());
      // With the throwable: a clean-up that failed too is in it, suppressed.
      log.warn("building golden snapshot {} failed: {}", key.dirName(), e.getMessage(), e);
      Files2.deleteTree(dir);
      throw e;
    }
  }

  // A shape whose build just failed (an image that does not boot) is not built again on every
  // create: that would double each create's cost for nothing.
  private boolean recentlyFailed(GoldenKey key) {
    Instant at = failedAt.get(key);
    return at != null && at.plus(retryAfterFailure).isAfter(clock.instant());
  }

  private ReadWriteLock lock(GoldenKey key) {
    return locks.computeIfAbsent(key, k -> new ReentrantReadWriteLock());
  }

  @Override
  public void close() {
    background.shutdownNow();
  }
}
