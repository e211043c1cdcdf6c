package dev.noid.agent.hypervisor;

/**
 * What a VMM says its VM is doing, as an agent adopting it needs to know. {@code reported} is
 * the VMM's own name for the state, for the VM's reason.
 */
public record VmmRunState(Phase phase, String reported) {
  public enum Phase {
    RUNNING,
    PAUSED,
    /**
     * Holds a VM whose guest does not run and cannot be resumed: never booted (an agent killed
     * between the VMM's create and boot, or while it waited for an incoming state), or shut down.
     */
    HALTED
  }

  public static VmmRunState running(String reported) {
    return new VmmRunState(Phase.RUNNING, reported);
  }

  public static VmmRunState paused(String reported) {
    return new VmmRunState(Phase.PAUSED, reported);
  }

  public static VmmRunState halted(String reported) {
    return new VmmRunState(Phase.HALTED, reported);
  }
}
