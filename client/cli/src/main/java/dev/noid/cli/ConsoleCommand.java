package dev.noid.cli;

import dev.noid.client.ConsoleSession;
import dev.noid.client.NoidClient;
import dev.noid.client.NoidException;
import java.io.IOException;
import java.io.InputStream;
import java.util.concurrent.CompletableFuture;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code noid console [VM]}: the VM's serial console on this terminal, in raw mode. Ctrl-]
 * detaches (the VM keeps running); the terminal is restored on every way out.
 */
@Calls("VmService/AttachConsole")
@Command(name = "console", mixinStandardHelpOptions = true,
    description = "Attach to a VM's serial console; Ctrl-] detaches.")
final class ConsoleCommand extends ClientCommand {
  static final int DETACH = 0x1d; // Ctrl-]

  @Parameters(index = "0", arity = "0..1", description = "VM name (default: current).") String name;

  @Override
  int run(NoidClient client) {
    Session.current().requireLocalTerminal();
    String vm = vm(name);
    CompletableFuture<NoidException> ended = new CompletableFuture<>();
    ConsoleSession session = client.console(vm, data -> {
      System.out.write(data, 0, data.length);
      System.out.flush();
    }, ended::complete);
    Terminal terminal = Terminal.raw();
    Runtime.getRuntime().addShutdownHook(new Thread(terminal::restore));
    // Input is pumped on a thread of its own: a session the controller ends (the VM stopped or
    // moved, the token rotated) must give the terminal back at once, not at the next key.
    CompletableFuture<Void> over = new CompletableFuture<>();
    ended.whenComplete((e, t) -> over.complete(null));
    try {
      if (System.console() != null) {
        System.err.print("attached to " + vm + "; Ctrl-] detaches\r\n");
      }
      InputStream in = System.in;
      Thread.ofPlatform().daemon().name("noid-console-input").start(() -> {
        try {
          pump(in, session);
          over.complete(null);
        } catch (IOException e) {
          over.completeExceptionally(
              new CliException(CliException.FAILURE, "console input failed: " + e.getMessage()));
        }
      });
      over.join();
    } catch (java.util.concurrent.CompletionException e) {
      throw (RuntimeException) e.getCause();
    } finally {
      terminal.restore();
    }
    NoidException error = ended.getNow(null);
    if (error != null) {
      throw error;
    }
    return 0;
  }

  /** Sends what is typed until Ctrl-] or the end of input, then detaches. */
  private static void pump(InputStream in, ConsoleSession session) throws IOException {
    byte[] buf = new byte[1024];
    int n;
    while ((n = in.read(buf)) >= 0) {
      for (int i = 0; i < n; i++) {
        if (buf[i] == DETACH) {
          if (i > 0) {
            session.send(java.util.Arrays.copyOf(buf, i));
          }
          session.detach();
          return;
        }
      }
      session.send(java.util.Arrays.copyOf(buf, n));
    }
    session.detach();
  }

  /** The controlling terminal's mode, saved with stty and put back exactly once. */
  static final class Terminal {
    private final String saved;
    private boolean restored;

    private Terminal(String saved) {
      this.saved = saved;
    }

    static Terminal raw() {
      if (System.console() == null) {
        return new Terminal(null);
      }
      String saved = stty("-g").strip();
      stty("raw", "-echo");
      return new Terminal(saved);
    }

    synchronized void restore() {
      if (!restored && saved != null) {
        stty(saved);
      }
      restored = true;
    }

    private static String stty(String... args) {
      try {
        java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of("stty"));
        cmd.addAll(java.util.List.of(args));
        Process p = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/tty")))
            .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String out = new String(p.getInputStream().readAllBytes());
        p.waitFor();
        return out;
      } catch (IOException e) {
        return "";
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return "";
      }
    }
  }
}
