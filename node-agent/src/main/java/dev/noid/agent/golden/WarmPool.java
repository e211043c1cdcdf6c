package dev.noid.agent.golden;

import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.image.Image;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.NodeCapacity;
import java.io.IOException;
import java.nio.file.Files;
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
import java.util.concurrent.locks.Condition;
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

  /** How long a create that found no room waits for warm VMs being made to end. */
  static final Duration MAKE_WAIT = Duration.ofSeconds(20);

  /** A file in a warm VM's directory once it is in the pool. */
  public static final String READY = "warm-ready";

  private final int size;
  private final WarmMaker vms;
  private final Duration makeWait;
  private final Map<GoldenKey, Deque<Warm>> ready = new HashMap<>();
  /**
   * Guards {@link #ready}. Not {@code synchronized}: the refill writes a file while it holds it,
   * from a virtual thread, which a monitor pins to its carrier on JDK 21 to 23.
   */
  private final ReentrantLock lock = new ReentrantLock();
  /** Signalled as each make ends, for {@link #releaseAll} waiting on makes under way. */
  private final Condition settled = lock.newCondition();
  /** Warm VMs being made, each holding its memory (under {@link #lock}). */
  private int making;
  /** Set by {@link #releaseAll}: no make starts until a create asks again (under {@link #lock}). */
  private boolean yielding;
  private final Set<GoldenKey> filling = ConcurrentHashMap.newKeySet();
  private final ExecutorService background = Executors.newThreadPerTaskExecutor(
      Thread.ofVirtual().name("warm-pool-", 0).factory());
  private final RefillRetries retries = new RefillRetries();
  private volatile boolean closed;

  WarmPool(int size, WarmMaker vms, Duration makeWait) {
    this.size = size;
    this.vms = vms;
    this.makeWait = makeWait;
  }

  /** {@code size} warm VMs per shape, restored into {@code vmsDir/.warm-*}. */
  public static WarmPool of(int size, java.nio.file.Path vmsDir,
      dev.noid.agent.hypervisor.Hypervisor hypervisor, GoldenSnapshots goldens,
      NodeCapacity capacity, dev.noid.agent.identity.IdentityFix identity,
      Duration bootTimeout, dev.noid.agent.network.NodeNetwork network) {
    return size <= 0 ? off() : new WarmPool(size, new WarmVms(vmsDir, hypervisor, goldens,
        capacity, identity, bootTimeout, network), MAKE_WAIT);
  }

  /** A pool that never holds a VM ({@code --warm-pool 0}, the default). */
  public static WarmPool off() {
    return new WarmPool(0, null, Duration.ZERO);
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

  /**
   * Makes warm VMs of {@code key} in the background until there are {@code size}; a create of
   * the shape asks, so a fault's tries start over.
   */
  public void refill(GoldenKey key, Image image) {
    if (enabled()) {
      lock.lock();
      try {
        yielding = false;
      } finally {
        lock.unlock();
      }
      retries.reset(key);
      fill(key, image);
    }
  }

  private void fill(GoldenKey key, Image image) {
    if (closed || !filling.add(key)) {
      return;
    }
    try {
      background.execute(() -> {
        boolean full = false;
        Exception failure = null;
        try {
          full = makeUntilFull(key, image);
        } catch (RuntimeException | IOException e) {
          failure = e;
        } finally {
          filling.remove(key);
        }
        if (failure != null) {
          failed(key, image, failure);
        } else if (full) {
          retries.reset(key);
          // A take between the last count and the end of this run found it running and
          // asked for nothing.
          if (count(key) < size) {
            fill(key, image);
          }
        }
      });
    } catch (RejectedExecutionException e) {
      filling.remove(key);
    }
  }

  /**
   * True once the pool holds {@code size} of {@code key}; false without a golden snapshot, or
   * when the pool was closed or let go meanwhile.
   */
  private boolean makeUntilFull(GoldenKey key, Image image) throws IOException {
    while (true) {
      Next next = startMake(key);
      if (next != Next.MAKE) {
        return next == Next.FULL;
      }
      Warm w;
      try {
        w = vms.make(key, image);
      } catch (RuntimeException | IOException e) {
        endMake(key, null);
        throw e;
      }
      if (!endMake(key, w)) {
        return false;
      }
    }
  }

  private enum Next { MAKE, FULL, STOP }

  /** What a fill does next; MAKE counts the make under way until {@link #endMake}. */
  private Next startMake(GoldenKey key) {
    lock.lock();
    try {
      if (closed || yielding) {
        return Next.STOP;
      }
      if (count(key) >= size) {
        return Next.FULL;
      }
      making++;
      return Next.MAKE;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Ends a make, publishing {@code w} (null when it failed); true if it joined the pool. A make
   * that ends after {@link #releaseAll} let the pool go is discarded, not published: the create
   * that asked for its memory may not have waited for it, and the pool is not to grow again
   * until a create asks.
   */
  private boolean endMake(GoldenKey key, Warm w) throws IOException {
    boolean published = false;
    try {
      // For whoever looks at the node's files: this one can be taken. Written under the lock a
      // take holds, with the publication: it is never there before a take can find the VM
      // (after, a take may rename its directory at any moment).
      lock.lock();
      try {
        if (w != null && !closed && !yielding) {
          Files.writeString(w.layout().dir().resolve(READY), w.buildId());
          ready.computeIfAbsent(key, k -> new ArrayDeque<>()).add(w);
          published = true;
        }
      } finally {
        lock.unlock();
      }
    } finally {
      if (w != null && !published) {
        discard(w); // let go, closed, or its file could not be written (thrown)
      }
      // Counted as ended only now: a releaseAll waiting on this make finds its memory free.
      lock.lock();
      try {
        making--;
        settled.signalAll();
      } finally {
        lock.unlock();
      }
    }
    return published;
  }

  private void failed(GoldenKey key, Image image, Exception e) {
    // A full node is not a fault that passes: a create that finds no room lets the pool go,
    // and the next create of the shape asks again.
    boolean noRoom = e instanceof AgentException a && a.code() == AgentException.Code.NO_CAPACITY;
    Duration wait = closed || noRoom ? null
        : retries.failed(key, () -> fill(key, image));
    log.info("warm VM of {} not made: {}; {}", key.dirName(), e.getMessage(), wait == null
        ? "not tried again before the next create of that shape"
        : "trying again in " + wait.toSeconds() + " s");
  }

  private int count(GoldenKey key) {
    lock.lock();
    try {
      return ready.getOrDefault(key, new ArrayDeque<>()).size();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Lets every warm VM go, for a create that found no room: those being made first finish (a
   * make holds its memory from its start), and no other starts until a create asks again.
   * True if there was one (its memory is free now).
   */
  public boolean releaseAll() {
    return release(makeWait);
  }

  private boolean release(Duration waitForMakes) {
    List<Warm> all = new ArrayList<>();
    boolean waited = false;
    lock.lock();
    try {
      yielding = true;
      waited = making > 0;
      long left = waitForMakes.toNanos();
      while (making > 0 && left > 0) {
        left = settled.awaitNanos(left);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      ready.values().forEach(all::addAll);
      ready.clear();
      lock.unlock();
    }
    if (waited) {
      log.info("warm VMs let go for a create that found no room, after those being made ended");
    }
    all.forEach(this::discard);
    return !all.isEmpty() || waited;
  }

  /** Stops a warm VM taken but not used. */
  public void discard(Warm w) {
    try {
      vms.discard(w);
    } catch (RuntimeException e) {
      log.warn("cannot discard warm VM in {}: {}", w.layout().dir(), e.getMessage());
    }
  }

  @Override
  public void close() {
    closed = true;
    retries.close();
    background.shutdownNow();
    if (enabled()) {
      release(Duration.ZERO); // a make that ends after this discards its VM itself
    }
  }
}
