package dev.noid.cli;

import dev.noid.api.v1.ExecStart;
import dev.noid.client.ExecListener;
import dev.noid.client.ExecSession;
import dev.noid.client.NoidClient;
import dev.noid.client.NoidException;
import java.io.InputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code noid exec [VM] [-e K=V]... -- CMD...}: the guest's stdout and stderr go to ours as
 * they come, and we exit with the command's exit code (our own failures: 255, see NoidCli).
 */
@Calls("VmService/ExecCommand")
@Command(name = "exec", mixinStandardHelpOptions = true,
    description = "Run a command in a VM: noid exec [VM] [-e KEY=VAL]... -- CMD [ARG...]",
    footer = {"", "Exits with the command's exit code, or 255 when noid itself failed (the VM"
        + " not found, the controller unreachable, ...: the message says which)."})
final class ExecCommand extends ClientCommand {
  @Option(names = {"-e", "--env"}, description = "KEY=VALUE for the command (repeatable).")
  Map<String, String> env = new LinkedHashMap<>();

  @Option(names = "--timeout", description = "Seconds before the command is killed (default 300).")
  int timeoutSeconds;

  @Option(names = {"-i", "--stdin"},
      description = "Send this standard input to the command, until its end (EOF), as fast as"
          + " the command reads it. (A VM booted from an image older than paced input holds up to"
          + " 16 MiB the command has not read, and kills a command further behind.)")
  boolean stdin;

  @Parameters(description = "[VM] -- COMMAND [ARG...]")
  List<String> words = new ArrayList<>();

  @Spec
  CommandSpec spec;

  private static final Set<String> VALUE_OPTIONS = Set.of("-e", "--env", "--timeout", "-o", "--output");

  /** How many positional words came before "--" (-1: no "--"); picocli drops the "--" itself. */
  static int positionalsBeforeDashDash(List<String> args) {
    int start = args.indexOf("exec");
    int dash = args.indexOf("--");
    if (start < 0 || dash < 0 || dash < start) {
      return -1;
    }
    int count = 0;
    for (int i = start + 1; i < dash; i++) {
      if (VALUE_OPTIONS.contains(args.get(i))) {
        i++;
      } else if (!args.get(i).startsWith("-")) {
        count++;
      }
    }
    return count;
  }

  @Override
  int run(NoidClient client) {
    // picocli keeps "--" out of the list; the VM is the first word only when more follow it
    // and the user wrote it before "--": we detect that from the raw position of "--".
    List<String> before = new ArrayList<>();
    List<String> command = new ArrayList<>();
    int dash = positionalsBeforeDashDash(spec.commandLine().getParseResult().originalArgs());
    if (dash < 0) {
      throw new CliException(CliException.USAGE, "exec needs '--' before the command: noid exec [VM] -- CMD");
    }
    for (int i = 0; i < words.size(); i++) {
      (i < dash ? before : command).add(words.get(i));
    }
    if (before.size() > 1) {
      throw new CliException(CliException.USAGE, "exec takes at most one VM before '--'; got " + before);
    }
    if (command.isEmpty()) {
      throw new CliException(CliException.USAGE, "no command after '--'");
    }
    String vm = vm(before.isEmpty() ? null : before.get(0));
    if (stdin) {
      Session.current().requireLocalTerminal();  // the daemon does not have the caller's stdin
    }
    // Output arrives on gRPC's threads: write to this command's streams (the daemon gives
    // each request its own), taken here on the command's thread.
    PrintStream out = Session.current().out();
    PrintStream err = Session.current().err();
    CompletableFuture<Integer> done = new CompletableFuture<>();
    ExecSession session = client.exec(ExecStart.newBuilder().setVm(vm).addAllCommand(command)
        .putAllEnv(env).setTimeoutSeconds(timeoutSeconds).setStdin(stdin).build(),
        new ExecListener() {
          @Override
          public void onStdout(byte[] data) {
            write(out, data);
          }

          @Override
          public void onStderr(byte[] data) {
            write(err, data);
          }

          // A PrintStream keeps a write error to itself (the JVM ignores SIGPIPE): `noid exec
          // ... | head` run in-process would leave the command running until its timeout.
          private void write(PrintStream to, byte[] data) {
            to.write(data, 0, data.length);
            to.flush();
            if (to.checkError()) {
              done.complete(CliException.READER_GONE);
            }
          }

          @Override
          public void onExit(int exitCode, boolean timedOut, boolean truncated) {
            if (timedOut) {
              err.println("noid: command timed out and was killed");
            }
            if (truncated) {
              err.println("noid: output limit reached; command killed");
            }
            done.complete(exitCode);
          }

          @Override
          public void onError(NoidException error) {
            done.completeExceptionally(error);
          }
        });
    if (stdin) {
      InputStream in = System.in;
      Thread.ofPlatform().daemon().name("noid-exec-stdin").start(() -> feed(in, session, done));
    }
    try {
      int code = done.join();
      if (stdin && code == 137) {
        // The guest agent's reason goes to the node's log, not to this call.
        err.println("noid: the command was killed (SIGKILL); with -i that is also what a guest"
            + " agent older than paced input does to a command more than 16 MiB behind reading"
            + " it");
      }
      if (code == CliException.READER_GONE) {
        session.cancel();  // the command is killed, as it would be by SIGPIPE
      }
      return code;
    } catch (java.util.concurrent.CompletionException e) {
      throw (RuntimeException) e.getCause();
    }
  }

  /**
   * Sends {@code in} to the command until its end, then closes the command's stdin. Waits for
   * gRPC's flow control between chunks, so a large input is not read ahead into memory.
   */
  private static void feed(InputStream in, ExecSession session, CompletableFuture<Integer> done) {
    byte[] buf = new byte[64 * 1024];
    try {
      int n;
      while ((n = in.read(buf)) >= 0) {
        while (!session.awaitWritable(java.time.Duration.ofSeconds(1))) {
          if (done.isDone()) {
            return;
          }
        }
        session.stdin(java.util.Arrays.copyOf(buf, n));
      }
      session.closeStdin();
    } catch (java.io.IOException | RuntimeException e) {
      // Input that cannot be read, or a call already over: the command sees its stdin end.
      try {
        session.closeStdin();
      } catch (RuntimeException ignored) {
        // the call is over
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
