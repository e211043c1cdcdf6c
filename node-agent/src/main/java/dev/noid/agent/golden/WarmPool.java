package dev.noid.agent.golden;

import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.image.Image;
import dev.noid.agent.vm.NodeCapacity;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Per golden-snapshot shape, up to {@code size} VMs restored ahead of use and left running,
 * idle ({@code --warm-pool N}). A create of that shape takes one over instead of restoring: its
 * VMM has started and its guest's code paths are warm, so what is left is the guest's identity
 * and the first exec. Each warm VM holds its shape's memory in the node's capacity (shared
 * copy-on-write with its siblings through the golden snapshot's memory base), and the pool lets
 * them all go when a create finds no room. A warm VM made from an older build of the snapshot
 * (a rebuilt image) is discarded, never handed out. Refilled in the background after a take.
 */
public final class WarmPool implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(WarmPool.class);
  private static final Duration FIRST_RETRY = Duration.ofSeconds(1);
  private static final Duration LAST_RETRY = Duration.ofMinutes(1);

  /**
   * A running VM ready to be taken over: its directory, VMM and memory hold move to the VM, and
   * so does the address leased as {@code lease} (null for a shape without a NIC).
   */
  public record Warm(GoldenKey key, String buildId, VmLayout layout, long pid,
      NodeCapacity.Hold hold, String lease, dev.noid.agent.guest.GuestConnection guest) {
    /** The same warm VM after its directory was renamed to {@code to}'s. */
    public Warm movedTo(VmLayout to) {
      return new Warm(key, buildId, to, pid, hold, lease, guest);
    }
  }

  /** A file in a warm VM's directory once it is in the pool. */
  public static final String READY = "warm-ready";

  private final int size;
  private final WarmVms vms;
  private final Map<GoldenKey, Deque<Warm>> ready = new HashMap<>();
  /**
   * Guards {@link #ready}. Not {@code synchronized}: the refill writes a file while it holds it,
   * from a virtual thread, which a monitor pins to its carrier on JDK 21 to 23.
   */
  private final ReentrantLock lock = new ReentrantLock();
  private final Set<GoldenKey> filling = ConcurrentHashMap.newKeySet();
  private final ExecutorService background = Executors.newThreadPerTaskExecutor(
      Thread.ofVirtual().name("warm-pool-", 0).factory());
  private final ScheduledExecutorService retries = Executors.newSingleThreadScheduledExecutor(
      Thread.ofPlatform().name("warm-pool-retry").daemon().factory());
  /** Per shape, the wait before the next try after failed refills: doubles, reset on success. */
  private final Map<GoldenKey, Duration> retryDelay = new ConcurrentHashMap<>();

  WarmPool(int size, WarmVms vms) {
    this.size = size;
    this.vms = vms;
  }

  /** {@code size} warm VMs per shape, restored into {@code vmsDir/.warm-*}. */
  public static WarmPool of(int size, java.nio.file.Path vmsDir,
      dev.noid.agent.hypervisor.Hypervisor hypervisor, GoldenSnapshots goldens,
      NodeCapacity capacity, dev.noid.agent.identity.IdentityFix identity,
      java.time.Duration bootTimeout, dev.noid.agent.network.NodeNetwork network) {
    return size <= 0 ? off() : new WarmPool(size, new WarmVms(vmsDir, hypervisor, goldens,
        capacity, identity, bootTimeout, network));
  }

  /** A pool that never holds a VM ({@code --warm-pool 0}, the default). */
  public static WarmPool off() {
    return new WarmPool(0, null);
  }

  public boolean enabled() {
    return size > 0;
  }

  /** A warm VM of {@code key} made from build {@code buildId}, or null. */
  public Warm take(GoldenKey key, String buildId) {
    if (!enabled()) {
      return null;
    }
    List<Warm> stale = new ArrayList<>();
    Warm found = null;
    lock.lock();
    try {
      Deque<Warm> q = ready.getOrDefault(key, new ArrayDeque<>());
      while (found == null && !q.isEmpty()) {
        Warm w = q.poll();
        if (w.buildId().equals(buildId) && w.guest().isReady()
            && ProcessHandle.of(w.pid()).map(ProcessHandle::isAlive).orElse(false)) {
          found = w;
        } else {
          stale.add(w);
        }
      }
    } finally {
      lock.unlock();
    }
    stale.forEach(this::discard);
    return found;
  }

  /** Makes warm VMs of {@code key} in the background until there are {@code size}. */
  public void refill(GoldenKey key, Image image) {
    if (!enabled() || !filling.add(key)) {
      return;
    }
    try {
      background.execute(() -> {
        try {
          while (count(key) < size) {
            Warm w = vms.make(key, image);
            if (w == null) {
              return;
            }
            // For whoever looks at the node's files: this one can be taken. Written under the
            // lock a take holds, with the publication: it is never there before a take can find
            // the VM (after, a take may rename its directory at any moment).
            java.io.IOException unmarked = null;
            lock.lock();
            try {
              java.nio.file.Files.writeString(w.layout().dir().resolve(READY), w.buildId());
              ready.computeIfAbsent(key, k -> new ArrayDeque<>()).add(w);
            } catch (java.io.IOException e) {
              unmarked = e;
            } finally {
              lock.unlock();
            }
            if (unmarked != null) {
              discard(w);
              throw unmarked;
            }
          }
          retryDelay.remove(key);
        } catch (RuntimeException | java.io.IOException e) {
          Duration delay = retryDelay.merge(key, FIRST_RETRY, (was, first) -> doubled(was));
          log.info("warm VM of {} not made: {}; trying again in {} s", key.dirName(),
              e.getMessage(), delay.toSeconds());
          retryAfter(delay, key, image);
        } finally {
          filling.remove(key);
        }
      });
    } catch (RejectedExecutionException e) {
      filling.remove(key);
    }
  }

  /**
   * A failed refill asks again later: nothing else would until the next create of the shape,
   * and a take while a doomed refill runs finds it running and asks for none.
   */
  private void retryAfter(Duration delay, GoldenKey key, Image image) {
    try {
      retries.schedule(() -> refill(key, image), delay.toMillis(), TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException closed) {
      // the pool is closing
    }
  }

  private static Duration doubled(Duration delay) {
    Duration twice = delay.multipliedBy(2);
    return twice.compareTo(LAST_RETRY) > 0 ? LAST_RETRY : twice;
  }

  private int count(GoldenKey key) {
    lock.lock();
    try {
      return ready.getOrDefault(key, new ArrayDeque<>()).size();
    } finally {
      lock.unlock();
    }
  }

  /** Lets every warm VM go; true if there was one (its memory is free now). */
  public boolean releaseAll() {
    List<Warm> all = new ArrayList<>();
    lock.lock();
    try {
      ready.values().forEach(all::addAll);
      ready.clear();
    } finally {
      lock.unlock();
    }
    all.forEach(this::discard);
    return !all.isEmpty();
  }

  /** Stops a warm VM taken but not used. */
  public void discard(Warm w) {
    try {
      vms.discard(w.layout(), w.pid(), w.hold(), w.lease(), w.guest());
    } catch (RuntimeException e) {
      log.warn("cannot discard warm VM in {}: {}", w.layout().dir(), e.getMessage());
    }
  }

  @Override
  public void close() {
    retries.shutdownNow();
    background.shutdownNow();
    if (enabled()) {
      releaseAll();
    }
  }
}
