package dev.noid.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/**
 * {@code noid daemon start|status|stop}: the per-user daemon that runs commands with warm
 * connections. The thin client starts it on demand; these commands run inside it.
 */
@Command(name = "daemon", mixinStandardHelpOptions = true,
    description = "The per-user CLI daemon: start, status, stop.",
    subcommands = {DaemonCommand.Start.class, DaemonCommand.Status.class, DaemonCommand.Stop.class})
final class DaemonCommand {

  static int report(boolean stopping) {
    String status = DaemonControl.status();
    if (status == null) {
      System.out.println("no daemon: this command ran in-process (NOID_DAEMON=0, or the daemon could not start)");
      return stopping ? 0 : CliException.UNAVAILABLE;
    }
    System.out.println(stopping ? "stopping " + status : status);
    return 0;
  }

  @Command(name = "start", mixinStandardHelpOptions = true,
      description = "Start the daemon now (the first command would), so that the next command is fast.")
  static final class Start implements Callable<Integer> {
    @Override
    public Integer call() {
      return report(false);
    }
  }

  @Command(name = "status", mixinStandardHelpOptions = true, description = "Show the daemon's pid, socket and connections.")
  static final class Status implements Callable<Integer> {
    @Override
    public Integer call() {
      return report(false);
    }
  }

  @Command(name = "stop", mixinStandardHelpOptions = true, description = "Stop the daemon (the next command starts a new one).")
  static final class Stop implements Callable<Integer> {
    @Override
    public Integer call() {
      DaemonControl.requestStop();
      return report(true);
    }
  }
}
