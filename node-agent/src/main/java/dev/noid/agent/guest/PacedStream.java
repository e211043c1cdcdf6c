package dev.noid.agent.guest;

import java.util.ArrayList;
import java.util.List;

/**
 * A stream whose stdin is paced (STDIN_ACK): its sink, its credit, and what it takes to start
 * it again unpaced when the guest agent is from before the flag. Such an agent answers the
 * flag with ERROR and never starts the stream, so it also drops the signals and resizes sent
 * meanwhile (a cancel's SIGKILL, an {@code exec -t}'s terminal size): those are kept until the
 * guest confirms pacing, and sent again after the unpaced start.
 */
final class PacedStream implements ExecSink {
  private final ExecSink sink;
  private final StdinCredit credit;
  private final Frame unpacedStart;
  private final List<Frame> unconfirmed = new ArrayList<>();
  private boolean restarted;

  PacedStream(ExecSink sink, StdinCredit credit, Frame unpacedStart) {
    this.sink = sink;
    this.credit = credit;
    this.unpacedStart = unpacedStart;
  }

  StdinCredit credit() {
    return credit;
  }

  Frame unpacedStart() {
    return unpacedStart;
  }

  /** An agent from before STDIN_ACK refused the flag; the stream was never started. */
  boolean refusedPacing(String error) {
    return credit.unconfirmed() && error.startsWith("EXEC: unknown flags");
  }

  /**
   * Called before {@code frame} is sent to this stream: kept while pacing is unconfirmed. Kept
   * before it is sent, so that a frame sent after the restart's snapshot was also sent after
   * its unpaced start (one sent twice does no harm: a second SIGKILL, the same size).
   */
  synchronized void sending(Frame frame) {
    if (!restarted && credit.unconfirmed()) {
      unconfirmed.add(frame);
    }
  }

  /** The frames to send again after the unpaced start; none are kept from now on. */
  synchronized List<Frame> restart() {
    restarted = true;
    return List.copyOf(unconfirmed);
  }

  @Override
  public void onStdout(byte[] data) {
    sink.onStdout(data);
  }

  @Override
  public void onStderr(byte[] data) {
    sink.onStderr(data);
  }

  @Override
  public void onExit(int status) {
    sink.onExit(status);
  }

  @Override
  public void onFailure(String message) {
    sink.onFailure(message);
  }
}
