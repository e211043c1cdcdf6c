package dev.noid.controller;

import dev.noid.common.config.ConfigException;
import dev.noid.common.config.Launcher;
import java.nio.file.Path;
import java.util.Map;
import picocli.CommandLine.Command;

/** {@code noid-controller}: builds the command line, runs it, exits with its code. */
@Command(name = "noid-controller", mixinStandardHelpOptions = true,
    versionProvider = Version.class,
    description = "The Noid controller: fleet state, scheduling and the public API.",
    subcommands = {ServeCommand.class, JoinTokenCommand.class, UsersCommand.class})
public final class ControllerMain implements Runnable {
  private final ControllerConfigFile config;

  ControllerMain(ControllerConfigFile config) {
    this.config = config;
  }

  public static void main(String[] args) {
    System.exit(run(args, System.getenv(), ControllerConfigFile.DEFAULT));
  }

  /** Runs one command line; {@code env} and {@code defaultConfig} locate the config file. */
  static int run(String[] args, Map<String, String> env, Path defaultConfig) {
    ControllerConfigFile.Prepared prepared;
    try {
      prepared = ControllerConfigFile.prepare(args, env, defaultConfig);
    } catch (ConfigException e) {
      System.err.println("noid-controller: " + e.getMessage());
      return Launcher.EXIT_USAGE;
    }
    return Launcher.run("noid-controller", new ControllerMain(prepared.config()), prepared.args());
  }

  ControllerConfigFile config() {
    return config;
  }

  @Override
  public void run() {
    throw new picocli.CommandLine.ParameterException(
        new picocli.CommandLine(this), "a command is required: serve, join-token or users");
  }
}
