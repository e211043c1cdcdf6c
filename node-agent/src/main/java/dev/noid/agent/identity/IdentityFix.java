package dev.noid.agent.identity;

import dev.noid.agent.guest.GuestCommand;
import dev.noid.api.agent.v1.VmSpec;
import java.io.IOException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeoutException;

/**
 * Gives a guest restored from a snapshot its own identity. The standard steps run as one
 * process, {@code noid-guest-agent identity}, started without a shell: right after a restore
 * every code path in the guest is cold (under TCG, translated again), and a script's shell,
 * {@code hostname} and {@code date} cost most of a golden create. Custom steps, and guests whose
 * agent predates that tool (a checkpoint taken before it), get one shell script instead, one
 * step after the other, that stops at the first step that fails and names it on stderr. Either
 * way one exec, not one per step, because each exec is a round trip on the create path.
 */
public final class IdentityFix {
  private final List<IdentityStep> steps;
  private final Clock clock;

  public IdentityFix(List<IdentityStep> steps, Clock clock) {
    this.steps = List.copyOf(steps);
    this.clock = clock;
  }

  public static IdentityFix standard(Clock clock) {
    return new IdentityFix(IdentitySteps.standard(), clock);
  }

  /** The command to run in the guest now (the clock step reads the host's clock here). */
  public List<String> command(VmSpec spec) {
    return command(spec, false);
  }

  /**
   * As {@link #command(VmSpec)}; with {@code sameMachine} (the VM restored from its own
   * checkpoint) the guest keeps its machine id: it is that machine again, not a copy of it.
   */
  public List<String> command(VmSpec spec, boolean sameMachine) {
    if (steps.equals(IdentitySteps.standard())) {
      return List.of("noid-guest-agent", "identity", IdentitySteps.hostname(spec),
          String.valueOf(clock.instant().toEpochMilli()), IdentitySteps.randomHex(64),
          sameMachine ? "keep" : IdentitySteps.randomHex(16));
    }
    return script(spec, sameMachine);
  }

  /** How {@link #applyTo} runs one command in the guest. */
  @FunctionalInterface
  public interface Guest {
    GuestCommand.Result run(List<String> argv)
        throws IOException, TimeoutException, InterruptedException;
  }

  /**
   * Runs the fix in {@code guest}: the one tool, or the script where the guest's agent predates
   * it. The result is the last command's.
   */
  public GuestCommand.Result applyTo(VmSpec spec, Guest guest)
      throws IOException, TimeoutException, InterruptedException {
    return applyTo(spec, false, guest);
  }

  /**
   * As {@link #applyTo(VmSpec, Guest)}, keeping the machine id with {@code sameMachine}. A tool
   * from before "keep" refuses it with its usage: the script, without that step, runs instead.
   */
  public GuestCommand.Result applyTo(VmSpec spec, boolean sameMachine, Guest guest)
      throws IOException, TimeoutException, InterruptedException {
    GuestCommand.Result r = guest.run(command(spec, sameMachine));
    boolean older = olderGuestAgent(r.status(), r.stderr())
        || (sameMachine && r.status() == 2 && r.stderr().contains(
            "usage: noid-guest-agent identity") && !r.stderr().contains("|keep"));
    return older ? guest.run(script(spec, sameMachine)) : r;
  }

  /**
   * True when {@code command}'s tool is older than this agent: it answered with its usage
   * (exit 2) without doing anything, and {@link #script} does the same steps.
   */
  public static boolean olderGuestAgent(int status, String stderr) {
    return status == 2 && stderr.contains("usage: noid-guest-agent [");
  }

  /** The steps as one shell script, for custom steps and older guest agents. */
  public List<String> script(VmSpec spec) {
    return script(spec, false);
  }

  private List<String> script(VmSpec spec, boolean sameMachine) {
    List<String> lines = new ArrayList<>();
    for (IdentityStep s : steps) {
      if (sameMachine && s.name().equals(IdentitySteps.MACHINE_ID.name())) {
        continue;
      }
      lines.add("{ " + s.script(spec, clock.instant()) + "; } || { echo 'identity step "
          + s.name() + " failed' >&2; exit 1; }");
    }
    return List.of("sh", "-c", String.join("\n", lines));
  }
}
