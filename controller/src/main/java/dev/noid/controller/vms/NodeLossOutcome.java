package dev.noid.controller.vms;

/**
 * What removing a node did with one of its VMs.
 *
 * @param node where it was restored (RESTORED only), else empty
 */
public record NodeLossOutcome(String vm, String owner, Kind kind, String node, String message) {
  public enum Kind { RESTORED, FAILED, REMOVED }
}
