package dev.noid.cli;

import dev.noid.client.NoidException;
import java.io.PrintWriter;
import java.util.List;
import java.util.Set;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code noid}: the command-line client. Errors are one line on stderr, with exit codes
 * 2 usage, 3 not found, 4 auth, 5 unavailable, 6 refused (bad input, wrong state, exists),
 * 1 anything else; {@code exec} exits with the guest command's code.
 */
@Command(name = "noid", mixinStandardHelpOptions = true, version = "noid 0.1.0",
    description = "Create, run, checkpoint and restore microVMs on a Noid fleet.",
    subcommands = {AdminCommands.Auth.class, AdminCommands.WhoAmI.class, VmCommands.Current.class,
        VmCommands.Use.class, VmCommands.Create.class, VmCommands.Destroy.class,
        VmCommands.ListVms.class, VmCommands.Info.class, ExecCommand.class, ConsoleCommand.class,
        CheckpointCommands.Create.class, CheckpointCommands.ListCheckpoints.class,
        CheckpointCommands.Restore.class, CheckpointCommands.Delete.class, VmCommands.Stop.class,
        VmCommands.Start.class, VmCommands.Pause.class, VmCommands.Resume.class,
        AdminCommands.Nodes.class, AdminCommands.Users.class, WatchCommands.Vms.class, HealthProbeCommand.class,
        AutoComplete.GenerateCompletion.class})
public final class NoidCli implements Runnable {
  /** For exec: how many positional words came before "--" (-1: no "--"). */
  static int dashDashIndex = -1;
  private static final Set<String> EXEC_VALUE_OPTIONS = Set.of("-e", "--env", "--timeout", "-o", "--output");

  public static void main(String[] args) {
    System.exit(run(args));
  }

  static int run(String... args) {
    dashDashIndex = positionalsBeforeDashDash(args);
    CommandLine cmd = new CommandLine(new NoidCli());
    PrintWriter err = cmd.getErr();
    cmd.setParameterExceptionHandler((ex, a) -> {
      err.println("noid: " + ex.getMessage() + " (see 'noid " + commandPath(ex.getCommandLine()) + " --help')");
      err.flush();
      return CliException.USAGE;
    });
    cmd.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
      if (ex instanceof CliException c) {
        err.println("noid: " + c.getMessage());
        err.flush();
        return c.exitCode();
      }
      if (ex instanceof NoidException n) {
        err.println("noid: " + n.getMessage() + hint(n));
        err.flush();
        return exitCode(n);
      }
      throw ex;
    });
    return cmd.execute(args);
  }

  static int positionalsBeforeDashDash(String[] args) {
    int start = List.of(args).indexOf("exec");
    int dash = List.of(args).indexOf("--");
    if (start < 0 || dash < 0 || dash < start) {
      return -1;
    }
    int count = 0;
    for (int i = start + 1; i < dash; i++) {
      if (EXEC_VALUE_OPTIONS.contains(args[i])) {
        i++;
      } else if (!args[i].startsWith("-")) {
        count++;
      }
    }
    return count;
  }

  private static String commandPath(CommandLine c) {
    String name = c.getCommandName();
    return c.getParent() == null ? "" : (commandPath(c.getParent()) + " " + name).strip();
  }

  static int exitCode(NoidException e) {
    return switch (e.code()) {
      case NOT_FOUND -> CliException.NOT_FOUND;
      case UNAUTHENTICATED, PERMISSION_DENIED -> CliException.AUTH;
      case UNAVAILABLE, DEADLINE_EXCEEDED -> CliException.UNAVAILABLE;
      case INVALID_ARGUMENT, FAILED_PRECONDITION, ALREADY_EXISTS, RESOURCE_EXHAUSTED, OUT_OF_RANGE -> CliException.REFUSED;
      default -> CliException.FAILURE;
    };
  }

  private static String hint(NoidException e) {
    return switch (e.code()) {
      case UNAUTHENTICATED -> " (check your token: noid auth setup)";
      case PERMISSION_DENIED -> " (ask an admin)";
      case UNAVAILABLE -> " (is the controller running and the address in ~/.noid/config.json right?)";
      default -> "";
    };
  }

  @Override
  public void run() {
    CommandLine.usage(this, System.out);
  }
}
