package dev.noid.agent.cloudhypervisor;

import dev.noid.agent.guest.ExecSink;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Collects a command's stdout; {@link #await()} gives it once the command has exited. */
final class StdoutSink implements ExecSink {
  private final StringBuilder out = new StringBuilder();
  private final CompletableFuture<String> done = new CompletableFuture<>();

  @Override
  public void onStdout(byte[] data) {
    out.append(new String(data, StandardCharsets.UTF_8));
  }

  @Override
  public void onStderr(byte[] data) {}

  @Override
  public void onExit(int status) {
    done.complete(out.toString());
  }

  @Override
  public void onFailure(String message) {
    done.completeExceptionally(new IOException(message));
  }

  String await() throws Exception {
    return done.get(30, TimeUnit.SECONDS);
  }
}
