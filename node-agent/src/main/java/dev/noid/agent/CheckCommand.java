package dev.noid.agent;

import dev.noid.agent.config.AgentConfig;
import dev.noid.agent.hypervisor.HypervisorChoice;
import dev.noid.agent.hypervisor.HypervisorChoices;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code noid-agent check}: which hypervisor {@code serve} would run with the same flags or
 * config file, why, and what the other one lacks. Exits 0 when the chosen one can run VMs.
 */
@Command(name = "check", mixinStandardHelpOptions = true,
    description = "Show which hypervisor the agent would use, why, and what the other lacks.")
public final class CheckCommand implements Callable<Integer> {
  /** Every serve option, so that one config file serves both commands. */
  @Mixin
  ServeCommand serve;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() {
    AgentConfig cfg = serve.toConfig();
    HypervisorChoice choice = HypervisorChoices.of(cfg);
    PrintWriter out = spec.commandLine().getOut();
    String other = choice.kind() == HypervisorChoice.Kind.QEMU ? "cloud-hypervisor" : "qemu";
    out.println("hypervisor: " + choice.kind().configName());
    out.println("reason: " + choice.reason());
    out.println("usable: " + (choice.usable() ? "yes" : "no (" + choice.chosenMissing() + ")"));
    out.println(other + ": " + (choice.otherMissing() == null ? "usable"
        : "not usable (" + choice.otherMissing() + ")"));
    out.flush();
    return choice.usable() ? 0 : 1;
  }
}
