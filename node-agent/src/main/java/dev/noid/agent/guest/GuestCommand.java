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

  private GuestCommand() {}

  public static Result run(GuestConnection guest, List<String> argv, Duration timeout)
      throws IOException, TimeoutException, InterruptedException {
    CompletableFuture<Result> done = new CompletableFuture<>();
    StringBuilder out = new StringBuilder();
    StringBuilder err = new StringBuilder();
    guest.exec(argv, Map.of(), false, false, new ExecSink() {
      @Override
      public void onStdout(byte[] data) {
        out.append(new String(data, StandardCharsets.UTF_8));
      }

      @Override
      public void onStderr(byte[] data) {
        err.append(new String(data, StandardCharsets.UTF_8));
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
    }
  }
}
