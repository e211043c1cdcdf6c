package dev.noid.controller;

import dev.noid.common.config.Launcher;
import picocli.CommandLine.Command;

/** {@code noid-controller}: builds the command line, runs it, exits with its code. */
@Command(name = "noid-controller", mixinStandardHelpOptions = true,
    versionProvider = Version.class,
    description = "The Noid controller: fleet state, scheduling and the public API.",
    subcommands = {ServeCommand.class, JoinTokenCommand.class, UsersCommand.class})
public final class ControllerMain implements Runnable {
  public static void main(String[] args) {
    System.exit(Launcher.run("noid-controller", new ControllerMain(), args));
  }

  @Override
  public void run() {
    throw new picocli.CommandLine.ParameterException(
        new picocli.CommandLine(this), "a command is required: serve, join-token or users");
  }
}
