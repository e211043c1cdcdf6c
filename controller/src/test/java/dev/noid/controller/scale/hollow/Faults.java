package dev.noid.controller.scale.hollow;

import io.grpc.Status;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * What a test tells a {@link FakeAgent} to get wrong: batches of creates that wait or never
 * answer, and creates, batches or restores refused with a given status.
 */
public final class Faults {
  private volatile CountDownLatch gate;
  private volatile CountDownLatch hang;
  private final AtomicInteger atGate = new AtomicInteger();
  private final AtomicReference<Status> failNextBatch = new AtomicReference<>();
  private volatile Status failCreates;
  private volatile Status failRestores;
  private volatile boolean restoresStopFirst;
  private volatile Status failStops;
  private volatile Status failDestroys;
  private volatile CountDownLatch importGate;
  private volatile Status loseImportAnswers;
  private volatile Status loseCheckpointAnswers;
  private volatile Status failCheckpoints;
  private volatile Status failCheckpointLists;
  private final AtomicInteger atImportGate = new AtomicInteger();
  private final AtomicInteger imports = new AtomicInteger();

  /** From now on, batches of creates wait (then carry on normally) until {@link #openGate()}. */
  public void closeGate() {
    gate = new CountDownLatch(1);
  }

  public void openGate() {
    CountDownLatch g = gate;
    gate = null;
    if (g != null) {
      g.countDown();
    }
  }

  /** Batches of creates waiting at the gate now. */
  public int atGate() {
    return atGate.get();
  }

  /** From now on, batches of creates never answer until {@link #release()}, then fail CANCELLED. */
  public void hangCreates() {
    hang = new CountDownLatch(1);
  }

  public void release() {
    CountDownLatch h = hang;
    hang = null;
    if (h != null) {
      h.countDown();
    }
  }

  /** The next batch of creates fails as a whole with {@code status}, creating nothing. */
  public void failNextBatch(Status status) {
    failNextBatch.set(status);
  }

  /** From now on, every create is refused with {@code status} (null: none is). */
  public void failCreates(Status status) {
    failCreates = status;
  }

  /** From now on, every restore is refused with {@code status} (null: none is). */
  public void failRestores(Status status) {
    failRestores = status;
    restoresStopFirst = false;
  }

  /**
   * From now on, every restore in place stops the VM and then fails with {@code status}: the
   * agent's failure after the old VMM is stopped, which leaves the VM STOPPED.
   */
  public void failRestoresAfterStopping(Status status) {
    failRestores = status;
    restoresStopFirst = true;
  }

  /** From now on, every stop is refused with {@code status} (null: none is). */
  public void failStops(Status status) {
    failStops = status;
  }

  /** From now on, every destroy is refused with {@code status} (null: none is). */
  public void failDestroys(Status status) {
    failDestroys = status;
  }

  /**
   * From now on, a checkpoint import whose files all arrived waits before it is published,
   * until {@link #openImports()}: a copy caught in flight.
   */
  public void holdImports() {
    importGate = new CountDownLatch(1);
  }

  public void openImports() {
    CountDownLatch g = importGate;
    importGate = null;
    if (g != null) {
      g.countDown();
    }
  }

  /**
   * From now on, a checkpoint import is published and its answer lost, ending {@code status}
   * instead (null: answered): the caller gave up, or the connection broke, just after.
   */
  public void loseImportAnswers(Status status) {
    loseImportAnswers = status;
  }

  /**
   * From now on, a checkpoint is taken and published and its answer lost, ending {@code
   * status} instead (null: answered).
   */
  public void loseCheckpointAnswers(Status status) {
    loseCheckpointAnswers = status;
  }

  /** From now on, a checkpoint is refused with {@code status} before anything is taken. */
  public void failCheckpoints(Status status) {
    failCheckpoints = status;
  }

  /** From now on, listing the node's checkpoints fails with {@code status} (null: it works). */
  public void failCheckpointLists(Status status) {
    failCheckpointLists = status;
  }

  void refuseCheckpoint() {
    Status s = failCheckpoints;
    if (s != null) {
      throw new HollowNode.Refused(s);
    }
  }

  void refuseCheckpointList() {
    Status s = failCheckpointLists;
    if (s != null) {
      throw new HollowNode.Refused(s);
    }
  }

  void beforeCheckpointAnswer() {
    Status s = loseCheckpointAnswers;
    if (s != null) {
      throw new HollowNode.Refused(s);
    }
  }

  Status importAnswerLost() {
    return loseImportAnswers;
  }

  /** Imports waiting to be published now. */
  public int importsHeld() {
    return atImportGate.get();
  }

  /** Checkpoint imports this node has received since it started. */
  public int imports() {
    return imports.get();
  }

  void beforeImportPublished() {
    imports.incrementAndGet();
    CountDownLatch g = importGate;
    if (g != null) {
      atImportGate.incrementAndGet();
      try {
        await(g);
      } finally {
        atImportGate.decrementAndGet();
      }
    }
  }

  /** Waits at the gate or hangs as told; the status the whole batch fails with, or null. */
  Status beforeBatch() {
    CountDownLatch h = hang;
    if (h != null) {
      await(h);
      return Status.CANCELLED.withDescription("released");
    }
    Status failure = failNextBatch.getAndSet(null);
    if (failure != null) {
      return failure;
    }
    CountDownLatch g = gate;
    if (g != null) {
      atGate.incrementAndGet();
      try {
        await(g);
      } finally {
        atGate.decrementAndGet();
      }
    }
    return null;
  }

  void refuseCreate() {
    Status s = failCreates;
    if (s != null) {
      throw new HollowNode.Refused(s);
    }
  }

  void refuseDestroy() {
    Status s = failDestroys;
    if (s != null) {
      throw new HollowNode.Refused(s);
    }
  }

  void refuseStop() {
    Status s = failStops;
    if (s != null) {
      throw new HollowNode.Refused(s);
    }
  }

  void refuseRestore() {
    Status s = failRestores;
    if (s != null) {
      throw new HollowNode.Refused(s);
    }
  }

  /** Whether a refused restore stops the VM it was to restore into first. */
  boolean restoresStopFirst() {
    return failRestores != null && restoresStopFirst;
  }

  private static void await(CountDownLatch latch) {
    try {
      latch.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
