package dev.noid.agent.guest;

/**
 * How much of a command's stdin the host may have in flight: sent to the guest and not yet
 * taken by the command (docs/guest-protocol.md, STDIN_ACK). The guest agent holds what its
 * command has not read, and kills a command past 16 MiB of it; so the host sends at most
 * {@link #WINDOW} ahead of the guest's reports, and a command that reads slowly slows its
 * sender instead. Nothing may be sent before the guest's first report: an agent older than
 * the protocol's STDIN_ACK refuses the flag and never starts the stream, and the stream is then
 * started again {@linkplain #unpaced() without pacing}, as such an agent was always fed.
 */
final class StdinCredit {
  /** Bytes in flight at most, before one more message of at most gRPC's 4 MiB. */
  static final long WINDOW = 1L << 20;

  private boolean paced;
  private boolean confirmed;
  private long inFlight;
  private Runnable waiting;

  private StdinCredit(boolean paced) {
    this.paced = paced;
  }

  static StdinCredit paced() {
    return new StdinCredit(true);
  }

  static StdinCredit none() {
    return new StdinCredit(false);
  }

  synchronized void sent(long bytes) {
    if (paced) {
      inFlight += bytes;
    }
  }

  /** The guest's report of {@code bytes} taken (0 in the first, which confirms pacing). */
  void taken(long bytes) {
    Runnable run;
    synchronized (this) {
      confirmed = true;
      // Never below 0: a report can count bytes the agent itself queued (a TTY's VEOF).
      inFlight = Math.max(0, inFlight - bytes);
      run = takeIfRoom();
    }
    if (run != null) {
      run.run();
    }
  }

  /** The guest does not pace: from now on stdin goes as it comes. */
  void unpaced() {
    Runnable run;
    synchronized (this) {
      paced = false;
      run = takeIfRoom();
    }
    if (run != null) {
      run.run();
    }
  }

  /** Whether the stream waits for the guest to confirm pacing (or refuse it). */
  synchronized boolean unconfirmed() {
    return paced && !confirmed;
  }

  synchronized boolean hasRoom() {
    return room();
  }

  /** Runs {@code next} once more stdin may be sent: now, or on the report that makes room. */
  void whenRoom(Runnable next) {
    synchronized (this) {
      if (!room()) {
        waiting = next;
        return;
      }
    }
    next.run();
  }

  private Runnable takeIfRoom() {
    if (waiting == null || !room()) {
      return null;
    }
    Runnable run = waiting;
    waiting = null;
    return run;
  }

  private boolean room() {
    return !paced || (confirmed && inFlight < WINDOW);
  }
}
