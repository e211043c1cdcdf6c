package dev.noid.agent.identity;

import dev.noid.api.agent.v1.VmSpec;
import java.time.Instant;

/**
 * One part of a VM's identity that a guest restored from someone else's memory (a golden
 * snapshot, a clone) still has from its origin, and the guest shell code that replaces it.
 * The network part adds its own step (new address, announced) to the list {@link IdentityFix}
 * is made with.
 */
public interface IdentityStep {
  /** Short name for error messages. */
  String name();

  /**
   * A POSIX sh fragment (busybox is enough) that gives the guest its own value; it must exit
   * non-zero when that fails. Values from the host are quoted by the step itself.
   */
  String script(VmSpec spec, Instant now);
}
