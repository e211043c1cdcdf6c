package dev.noid.agent.network;

import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Runs {@code ip} and {@code nft} and says exactly which command failed and what it printed.
 * Both are driven as processes: Java has no well-kept netlink library (see docs/decisions.md).
 */
public final class HostCommand {
  private static final long TIMEOUT_SECONDS = 30;

  public record Result(int status, String stdout, String stderr) {
    public boolean ok() {
      return status == 0;
    }
  }

  /** Runs {@code argv} with {@code input} on stdin; fails with the command's own complaint. */
  public String run(List<String> argv, String input) {
    Result r = tryRun(argv, input);
    if (!r.ok()) {
      throw new AgentException(Code.INTERNAL, "network set-up failed: '" + String.join(" ", argv)
          + "' exited with " + r.status() + ": " + r.stderr().strip());
    }
    return r.stdout();
  }

  public String run(String... argv) {
    return run(List.of(argv), null);
  }

  /** Runs {@code argv} and returns what happened, for commands whose failure is expected. */
  public Result tryRun(List<String> argv, String input) {
    try {
      Process p = new ProcessBuilder(argv).start();
      // Both streams drained at once: a full stderr pipe would stall the process. Not on the
      // common pool: on two cores it has one thread (JDK 25), and a task blocked there would
      // stall every command.
      CompletableFuture<String> err = CompletableFuture.supplyAsync(
          () -> drain(p.getErrorStream()), r -> Thread.ofVirtual().start(r));
      if (input != null) {
        p.getOutputStream().write(input.getBytes(StandardCharsets.UTF_8));
      }
      p.getOutputStream().close();
      String out = drain(p.getInputStream());
      if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new AgentException(Code.INTERNAL, "'" + String.join(" ", argv) + "' did not finish"
            + " within " + TIMEOUT_SECONDS + " s");
      }
      return new Result(p.exitValue(), out, err.join());
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "cannot run '" + argv.get(0) + "' (is "
          + ("nft".equals(argv.get(0)) ? "nftables" : "iproute2") + " installed?): "
          + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AgentException(Code.INTERNAL, "interrupted running " + argv, e);
    }
  }

  private static String drain(java.io.InputStream in) {
    try (in) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "";
    }
  }
}
