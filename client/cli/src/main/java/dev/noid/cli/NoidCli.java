package dev.noid.cli;

import dev.noid.client.NoidException;
import java.io.PrintWriter;
import java.util.Optional;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code noid}: the command-line client. Errors are one line on stderr, with exit codes
 * 2 usage, 3 not found, 4 auth, 5 unavailable, 6 refused (bad input, wrong state, exists),
 * 1 anything else; {@code exec} exits with the guest command's code, and 255 when it failed
 * itself ({@link CliException#EXEC_FAILED}).
 */
@Command(name = "noid", mixinStandardHelpOptions = true, version = "noid 0.1.0",
    description = "Create, run, checkpoint and restore microVMs on a Noid fleet.",
    footer = {"", "Run 'noid COMMAND --help' for a command's options. Commands run in a per-user "
        + "daemon that keeps connections warm; NOID_DAEMON=0 runs them in this process."})
public final class NoidCli implements Runnable {

  public static void main(String[] args) {
    System.exit(run(Session.local(), args));
  }

  /** Where commands get their clients from, for the rest of this process's life (the daemon's cache). */
  public static void useConnections(Connections c) {
    ClientCommand.connections = c;
  }

  /**
   * Runs one command line as {@code session}'s caller; returns the exit code. Throws
   * {@link Session.NeedsTerminal} when a remote session's command must run in the client.
   */
  public static int run(Session session, String... args) {
    Session.set(session);
    Timing.start(session);
    try {
      return execute(session, args);
    } finally {
      String timing = Timing.report();
      if (timing != null) {
        session.err().println("noid-timing: " + (session.remote() ? "daemon " : "in-process ") + timing);
      }
    }
  }

  private static int execute(Session session, String... args) {
    CommandLine cmd = model(args);
    PrintWriter err = cmd.getErr();
    cmd.setParameterExceptionHandler((ex, a) -> {
      String unknown = UnknownCommands.describe(ex);
      String path = commandPath(ex.getCommandLine());
      err.println("noid: " + (unknown != null ? unknown
          : ex.getMessage() + " (see 'noid " + (path.isEmpty() ? "" : path + " ") + "--help')"));
      err.flush();
      return ofCommand(ex.getCommandLine(), CliException.USAGE);
    });
    // picocli catches what this handler throws (printing it, exit 1): the hand-back to the
    // client is kept aside and thrown once execute() has returned.
    Session.NeedsTerminal[] handBack = {null};
    cmd.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
      if (ex instanceof Session.NeedsTerminal nt) {
        handBack[0] = nt;
        return CliException.FAILURE;
      }
      if (ex instanceof CliException c) {
        err.println("noid: " + c.getMessage());
        err.flush();
        return ofCommand(commandLine, c.exitCode());
      }
      if (ex instanceof NoidException n) {
        String target = commandLine.getCommand() instanceof ClientCommand c ? c.target : null;
        err.println("noid: " + Errors.describe(n, target));
        err.flush();
        return ofCommand(commandLine, exitCode(n));
      }
      if (commandLine.getCommand() instanceof ExecCommand) {
        err.println("noid: " + ex);  // not the guest command's code, whatever went wrong here
        err.flush();
        return CliException.EXEC_FAILED;
      }
      throw ex;
    });
    int code = cmd.execute(args);
    if (handBack[0] != null) {
      throw handBack[0];
    }
    return code;
  }

  // exec's own failures must not pass for its command's exit codes; a signal's (128+) stand.
  private static int ofCommand(CommandLine c, int code) {
    return c.getCommand() instanceof ExecCommand && code < 128 ? CliException.EXEC_FAILED : code;
  }

  /**
   * The picocli model of the command that will run and of nothing else (building every
   * subcommand's model by reflection was half of a command's start-up); all of them for help,
   * no command or an unknown one.
   */
  static CommandLine model(String... args) {
    CommandLine cmd = new CommandLine(new NoidCli());
    Optional<CommandTable.Entry> only = firstWord(args).flatMap(CommandTable::find);
    if (only.isPresent()) {
      add(cmd, only.get());
    } else {
      CommandTable.GROUPS.forEach(g -> g.entries().forEach(e -> add(cmd, e)));
      cmd.getHelpSectionMap().put(CommandLine.Model.UsageMessageSpec.SECTION_KEY_COMMAND_LIST_HEADING,
          help -> "");
      cmd.getHelpSectionMap().put(CommandLine.Model.UsageMessageSpec.SECTION_KEY_COMMAND_LIST,
          new GroupedHelp());
    }
    return cmd;
  }

  private static void add(CommandLine cmd, CommandTable.Entry e) {
    cmd.addSubcommand(e.name(), new CommandLine(e.type()), e.aliases());
  }

  private static Optional<String> firstWord(String[] args) {
    for (String a : args) {
      if (!a.startsWith("-")) {
        return Optional.of(a);
      }
    }
    return Optional.empty();
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
      case CANCELLED -> CliException.INTERRUPTED;
      default -> CliException.FAILURE;
    };
  }

  @Override
  public void run() {
    CommandLine.usage(this, System.out);
  }

  /** The command list of `noid --help`, in the groups of {@link CommandTable}. */
  private static final class GroupedHelp implements CommandLine.IHelpSectionRenderer {
    @Override
    public String render(CommandLine.Help help) {
      StringBuilder sb = new StringBuilder();
      for (CommandTable.Group g : CommandTable.GROUPS) {
        sb.append('\n').append(g.title()).append(":\n");
        for (CommandTable.Entry e : g.entries()) {
          String[] d = help.commandSpec().subcommands().get(e.name()).getCommandSpec().usageMessage().description();
          sb.append(String.format("  %-20s %s%n", e.name(), d.length > 0 ? d[0] : ""));
        }
      }
      return sb.toString();
    }
  }
}
