package dev.noid.controller.vms.store;

import dev.noid.controller.store.Store;
import dev.noid.controller.store.VmWrite;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * Group commit of VM changes: changes queue in the order they were made; the first waiter finds
 * no commit running, takes everything queued, writes it in one store transaction, applies it in
 * memory in that order (under {@code monitor}) and wakes the others. Under load many changes
 * share one commit instead of each paying for its own; alone, a change commits at once. Every
 * change is durable before it is visible, as with one transaction each.
 */
final class GroupCommit {
  /** A queued change; {@code apply} runs after the commit with the store's answer. */
  static final class Pending {
    private final VmWrite write;
    private final Consumer<Boolean> apply;
    private final Runnable undo;
    private final Condition wake;
    private boolean done;
    private boolean ok;
    private RuntimeException failure;

    Pending(VmWrite write, Consumer<Boolean> apply, Runnable undo, Condition wake) {
      this.write = write;
      this.apply = apply;
      this.undo = undo;
      this.wake = wake;
    }
  }

  private final Store store;
  private final Object monitor;
  private final ReentrantLock lock = new ReentrantLock();
  private final List<Pending> queue = new ArrayList<>();
  private boolean committing;

  GroupCommit(Store store, Object monitor) {
    this.store = store;
    this.monitor = monitor;
  }

  /** Queues a change; call in the order changes are made (the caller holds {@code monitor}). */
  Pending submit(VmWrite write, Consumer<Boolean> apply, Runnable undo) {
    Pending p = new Pending(write, apply, undo, lock.newCondition());
    lock.lock();
    try {
      queue.add(p);
    } finally {
      lock.unlock();
    }
    return p;
  }

  /** Waits until {@code p} is committed and applied; its store answer, or the store's failure. */
  boolean await(Pending p) {
    while (true) {
      List<Pending> batch;
      lock.lock();
      try {
        while (!p.done && committing) {
          p.wake.awaitUninterruptibly();
        }
        if (p.done) {
          if (p.failure != null) {
            throw p.failure;
          }
          return p.ok;
        }
        committing = true;
        batch = new ArrayList<>(queue);
        queue.clear();
      } finally {
        lock.unlock();
      }
      commit(batch);
    }
  }

  private void commit(List<Pending> batch) {
    List<Boolean> results = null;
    RuntimeException failure = null;
    try {
      results = store.writeVms(batch.stream().map(p -> p.write).toList());
    } catch (RuntimeException e) {
      failure = e;
    }
    synchronized (monitor) {
      for (int i = 0; i < batch.size(); i++) {
        Pending p = batch.get(i);
        if (failure == null) {
          p.ok = results.get(i);
          p.apply.accept(p.ok);
        } else {
          p.failure = failure;
          p.undo.run();
        }
      }
    }
    lock.lock();
    try {
      // Wake exactly the waiters this commit answered, not every waiter: under load thousands
      // wait, and waking all of them per commit cost more than the commits.
      for (Pending p : batch) {
        p.done = true;
        p.wake.signal();
      }
      committing = false;
      // The oldest change still queued leads the next commit.
      if (!queue.isEmpty()) {
        queue.getFirst().wake.signal();
      }
    } finally {
      lock.unlock();
    }
  }
}
