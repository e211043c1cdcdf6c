package dev.noid.controller.ha;

import dev.noid.controller.store.ControllerLease;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * The lease as PostgresLease keeps it, in memory, on this JVM's clock: renewed by its holder,
 * taken with the next epoch once expired, otherwise reported. Claims can be made to block (a
 * cut link) or to see another holder come and go (a long pause).
 */
final class FakeControllerLease implements ControllerLease {
  private String holder;
  private String address = "";
  private long epoch;
  private long expiresNanos;
  volatile CountDownLatch blockClaims;

  @Override
  public Holder claim(String who, String addr, Duration ttl) {
    CountDownLatch block = blockClaims;
    if (block != null) {
      try {
        block.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }
    synchronized (this) {
      long now = System.nanoTime();
      if (holder == null || (!holder.equals(who) && now > expiresNanos)) {
        holder = who;
        address = addr;
        epoch++;
      }
      if (holder.equals(who)) {
        expiresNanos = now + ttl.toNanos();
        return new Holder(who, addr, epoch, true);
      }
      return new Holder(holder, address, epoch, false);
    }
  }

  /** Someone else held the lease meanwhile and let it go (expired at once). */
  synchronized void heldMeanwhileBy(String other) {
    holder = other;
    epoch++;
    expiresNanos = System.nanoTime() - 1;
  }

  @Override
  public List<String> controllerAddresses(Duration recent) {
    return List.of(address);
  }

  @Override
  public void fence(long e) {}

  @Override
  public void depose(String why) {}

  @Override
  public synchronized boolean raiseEpoch(long e) {
    boolean moved = e > epoch;
    epoch = Math.max(epoch, e);
    return moved;
  }

  @Override
  public synchronized void release(String who) {
    if (who.equals(holder)) {
      expiresNanos = System.nanoTime() - 1;
    }
  }
}
