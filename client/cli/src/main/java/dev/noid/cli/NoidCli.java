package dev.noid.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code noid}: the command-line client. */
@Command(name = "noid", mixinStandardHelpOptions = true, version = "noid 0.1.0",
    description = "Create, run, checkpoint and restore microVMs on a Noid fleet.",
    subcommands = {HealthProbeCommand.class})
public final class NoidCli implements Runnable {
  public static void main(String[] args) {
    System.exit(new CommandLine(new NoidCli()).execute(args));
  }

  @Override
  public void run() {
    CommandLine.usage(this, System.out);
  }
}
