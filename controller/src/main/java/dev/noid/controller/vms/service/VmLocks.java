package dev.noid.controller.vms.service;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * One lock per VM: whoever changes a VM (a create, a user's call, the reconciler) holds its
 * lock, and heartbeats leave a locked VM alone, since its state is about to change anyway.
 * A VM's entry lives only while some thread holds or waits for its lock, so the map holds the
 * VMs being changed now, not every VM ever touched (issue 19 L4).
 */
public final class VmLocks {
  private final Map<String, Held> locks = new ConcurrentHashMap<>();

  /** A VM's lock and how many threads hold or wait for it (changed only inside the map's compute). */
  static final class Held {
    private final String id;
    private final ReentrantLock lock = new ReentrantLock();
    private int users;

    private Held(String id) {
      this.id = id;
    }
  }

  /** Whether some thread is changing the VM now. */
  public boolean locked(String id) {
    Held h = locks.get(id);
    return h != null && h.lock.isLocked();
  }

  public <T> T withLock(String id, Supplier<T> work) {
    Held held = lock(id);
    try {
      return work.get();
    } finally {
      unlock(held);
    }
  }

  public void withLock(String id, Runnable work) {
    withLock(id, () -> {
      work.run();
      return null;
    });
  }

  /**
   * Runs {@code work} under the VM's lock if no other thread holds it; false, without running
   * it, if one does: for callers that must not wait on a long operation and come back later.
   */
  public boolean tryWithLock(String id, Runnable work) {
    return tryWithLock(id, () -> {
      work.run();
      return true;
    }).isPresent();
  }

  /** As {@link #tryWithLock(String, Runnable)}, with work's result; empty if another holds the lock. */
  public <T> Optional<T> tryWithLock(String id, Supplier<T> work) {
    Held held = locks.compute(id, (k, h) -> {
      Held v = h == null ? new Held(k) : h;
      v.users++;
      return v;
    });
    if (!held.lock.tryLock()) {
      locks.computeIfPresent(held.id, (k, h) -> --h.users == 0 ? null : h);
      return Optional.empty();
    }
    try {
      return Optional.of(work.get());
    } finally {
      unlock(held);
    }
  }

  /** Takes the VM's lock, for a caller that holds many at once and gives them to {@link #unlockAll}. */
  Held lock(String id) {
    Held held = locks.compute(id, (k, h) -> {
      Held v = h == null ? new Held(k) : h;
      v.users++;
      return v;
    });
    held.lock.lock();
    return held;
  }

  private void unlock(Held held) {
    held.lock.unlock();
    locks.computeIfPresent(held.id, (k, h) -> --h.users == 0 ? null : h);
  }

  void unlockAll(List<Held> held) {
    held.forEach(this::unlock);
  }

  /** VMs whose lock is held or awaited now. */
  int size() {
    return locks.size();
  }
}
