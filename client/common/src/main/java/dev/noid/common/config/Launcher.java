package dev.noid.common.config;

import java.io.PrintWriter;
import picocli.CommandLine;

/**
 * Runs a picocli command the way every Noid process starts: config file merged into the
 * flags, and any start-up problem reported on exactly one line with a stable exit code.
 */
public final class Launcher {
  /** Usage or configuration error: unknown flag or key, malformed value. */
  public static final int EXIT_USAGE = 2;
  /** The process could not start: a port in use, an unreadable file. */
  public static final int EXIT_STARTUP = 1;

  private Launcher() {}

  public static int run(String programName, Object command, String... args) {
    CommandLine cmd = new CommandLine(command);
    cmd.setCommandName(programName);
    cmd.setOverwrittenOptionsAllowed(true); // a flag overrides the same key from the config file
    cmd.setCaseInsensitiveEnumValuesAllowed(true);
    PrintWriter err = cmd.getErr();
    cmd.setParameterExceptionHandler((ex, ignored) -> {
      err.println(programName + ": " + ex.getMessage() + " (see '" + programName + " --help')");
      err.flush();
      return EXIT_USAGE;
    });
    cmd.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
      if (ex instanceof ConfigException) {
        err.println(programName + ": " + ex.getMessage());
        err.flush();
        return EXIT_USAGE;
      }
      if (ex instanceof StartupException) {
        err.println(programName + ": " + ex.getMessage());
        err.flush();
        return EXIT_STARTUP;
      }
      throw ex;
    });
    String[] expanded;
    try {
      CommandLine target = subcommandFor(cmd, args);
      int at = target == cmd ? 0 : 1;
      expanded = ConfigFileArguments.expand(target.getCommandSpec(), args, at);
    } catch (ConfigException e) {
      err.println(programName + ": " + e.getMessage());
      err.flush();
      return EXIT_USAGE;
    }
    return cmd.execute(expanded);
  }

  // The config file applies to the subcommand named first on the line (e.g. `serve`), if any.
  private static CommandLine subcommandFor(CommandLine root, String[] args) {
    if (args.length > 0 && root.getSubcommands().containsKey(args[0])) {
      return root.getSubcommands().get(args[0]);
    }
    return root;
  }
}
