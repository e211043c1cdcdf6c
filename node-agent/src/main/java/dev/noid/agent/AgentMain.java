package dev.noid.agent;

import dev.noid.common.config.Launcher;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code noid-agent}: builds the command line, runs it, exits with its code. */
@Command(name = "noid-agent", mixinStandardHelpOptions = true, versionProvider = Version.class,
    description = "The Noid node agent: runs VMs on this host for the controller.",
    subcommands = {ServeCommand.class, CheckCommand.class})
public final class AgentMain implements Runnable {
  public static void main(String[] args) {
    System.exit(Launcher.run("noid-agent", new AgentMain(), args));
  }

  @Override
  public void run() {
    throw new CommandLine.ParameterException(new CommandLine(this), "a command is required: serve or check");
  }
}
