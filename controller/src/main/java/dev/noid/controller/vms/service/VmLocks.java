package dev.noid.controller.vms.service;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * One lock per VM: whoever changes a VM (a create, a user's call, the reconciler) holds its
 * lock, and heartbeats leave a locked VM alone, since its state is about to change anyway.
 */
public final class VmLocks {
  private final Map<String, ReentrantLock> locks = new ConcurrentHashMap<>();

  /** Whether some thread is changing the VM now. */
  public boolean locked(String id) {
    ReentrantLock l = locks.get(id);
    return l != null && l.isLocked();
  }

  public <T> T withLock(String id, Supplier<T> work) {
    ReentrantLock lock = lock(id);
    try {
      return work.get();
    } finally {
      lock.unlock();
    }
  }

  public void withLock(String id, Runnable work) {
    withLock(id, () -> {
      work.run();
      return null;
    });
  }

  /** Takes the VM's lock and returns it, for a caller that holds many at once. */
  ReentrantLock lock(String id) {
    ReentrantLock lock = locks.computeIfAbsent(id, k -> new ReentrantLock());
    lock.lock();
    return lock;
  }

  static void unlockAll(List<ReentrantLock> held) {
    held.forEach(ReentrantLock::unlock);
  }
}
