package dev.noid.agent.guest;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** One command the agent itself runs in a guest to completion, its output collected. */
public final class GuestCommand {
  /** Exit status (-1 when the guest agent reported a failure instead), stdout and stderr. */
  public record Result(int status, String stdout, String stderr) {}

  /**
   * The most of each of stdout and stderr kept (issue 19 H4): these commands are the agent's
   * own (identity, network), but the guest answering them is not trusted to be brief.
   */
  static final int MAX_KEPT_BYTES = 64 << 10;

  private GuestCommand() {}

  /** Text kept up to {@link #MAX_KEPT_BYTES}; what comes after is counted, not kept. */
  static final class Capped {
    private final java.io.ByteArrayOutputStream kept = new java.io.ByteArrayOutputStream();
    private long dropped;

    synchronized void append(byte[] data) {
      int room = Math.max(0, MAX_KEPT_BYTES - kept.size());
      kept.write(data, 0, Math.min(room, data.length));
      dropped += Math.max(0, data.length - room);
    }

    @Override
    public synchronized String toString() {
      String text = kept.toString(StandardCharsets.UTF_8);
      return dropped == 0 ? text : text + "... (" + dropped + " more bytes not kept)";
    }
  }

  public static Result run(GuestConnection guest, List<String> argv, Duration timeout)
      throws IOException, TimeoutException, InterruptedException {
    CompletableFuture<Result> done = new CompletableFuture<>();
    Capped out = new Capped();
    Capped err = new Capped();
    ExecStream stream = guest.exec(argv, Map.of(), false, false, new ExecSink() {
      @Override
      public void onStdout(byte[] data) {
        out.append(data);
      }

      @Override
      public void onStderr(byte[] data) {
        err.append(data);
      }

      @Override
      public void onExit(int status) {
        done.complete(new Result(status, out.toString(), err.toString()));
      }

      @Override
      public void onFailure(String message) {
        done.complete(new Result(-1, out.toString(), message));
      }
    });
    try {
      return done.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw new IOException(e.getCause());
    } catch (TimeoutException e) {
      // Not left running in the guest: its caller gives up on it (the guest then reports the
      // exit, which also drops its sink here). Sent aside: a guest that stopped reading blocks
      // the send, and the caller is owed its timeout now.
      Thread.ofVirtual().name("guest-command-kill").start(() -> {
        try {
          stream.signal(9);
        } catch (IOException gone) {
          // the channel is gone, and the command with it
        }
      });
      throw e;
    }
  }
}
