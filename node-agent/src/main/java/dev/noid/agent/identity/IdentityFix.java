package dev.noid.agent.identity;

import dev.noid.api.agent.v1.VmSpec;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;

/**
 * Gives a guest restored from a snapshot its own identity: one shell script run through the
 * guest agent, one step after the other, that stops at the first step that fails and names it
 * on stderr. One exec, not one per step, because each exec is a round trip on the
 * create path.
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
    List<String> lines = new ArrayList<>();
    for (IdentityStep s : steps) {
      lines.add("{ " + s.script(spec, clock.instant()) + "; } || { echo 'identity step "
          + s.name() + " failed' >&2; exit 1; }");
    }
    return List.of("sh", "-c", String.join("\n", lines));
  }
}
