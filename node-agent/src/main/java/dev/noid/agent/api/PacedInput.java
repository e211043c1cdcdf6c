package dev.noid.agent.api;

import dev.noid.agent.guest.ExecStream;
import dev.noid.api.agent.v1.ExecRequest;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.function.Consumer;

/**
 * An exec's input on its way to the guest, in order: stdin is handed on only while the guest's
 * command has room for it ({@link ExecStream#whenStdinRoom}), and waits here meanwhile. The call
 * goes on reading its requests until {@link #HOLD_BYTES} of input wait, so that a signal or a
 * resize sent behind input the command has not read yet still reaches it; past that, the wait
 * goes back to the sender through gRPC's flow control.
 */
final class PacedInput {
  static final long HOLD_BYTES = 4L << 20;

  private final ExecStream stream;
  private final Runnable readNext;
  private final Consumer<Exception> failed;
  private final Deque<ExecRequest> held = new ArrayDeque<>();
  private long heldBytes;
  private boolean draining;
  private boolean stalled;

  /** {@code readNext}: reads the call's next request; {@code failed}: ends the call. */
  PacedInput(ExecStream stream, Runnable readNext, Consumer<Exception> failed) {
    this.stream = stream;
    this.readNext = readNext;
    this.failed = failed;
  }

  /** A STDIN or STDIN_CLOSE request, in the order the call read them. */
  void offer(ExecRequest input) {
    boolean read;
    boolean drainHere;
    synchronized (this) {
      held.add(input);
      heldBytes += input.getStdin().size();
      read = heldBytes < HOLD_BYTES;
      stalled = !read;
      drainHere = !draining;
      draining = true;
    }
    if (read) {
      readNext.run();
    }
    if (drainHere) {
      drain();
    }
  }

  private void drain() {
    while (true) {
      ExecRequest next;
      boolean read = false;
      synchronized (this) {
        next = held.peek();
        if (next == null) {
          draining = false;
          return;
        }
        if (next.hasStdin() && !stream.hasStdinRoom()) {
          // Not on the thread that reports room (the VM's guest channel reader): sends block.
          stream.whenStdinRoom(() -> Thread.ofVirtual().name("exec-stdin").start(this::drain));
          return;
        }
        held.poll();
        heldBytes -= next.getStdin().size();
        if (stalled && heldBytes < HOLD_BYTES) {
          stalled = false;
          read = true;
        }
      }
      if (read) {
        readNext.run();
      }
      try {
        if (next.hasStdin()) {
          stream.stdin(next.getStdin().toByteArray());
        } else {
          stream.closeStdin();
        }
      } catch (IOException | RuntimeException e) {
        failed.accept(e);
        return;
      }
    }
  }
}
