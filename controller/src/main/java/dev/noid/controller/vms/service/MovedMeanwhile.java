package dev.noid.controller.vms.service;

import dev.noid.controller.vms.VmEntry;

/**
 * A move that found, under the VM's lock, nothing left to do: the VM runs on the move's target
 * already, or no longer on the node the caller was moving it off, because another move (a drain
 * run again, a MigrateVm) took it there first. Going on would "move" it onto the node it runs
 * on, and destroying the source copy would then destroy the VM itself. Nothing of the VM was
 * touched; the room the caller reserved on the target is not the VM's and is given back once
 * ({@link VmMoves#moveReserved}).
 */
final class MovedMeanwhile extends RuntimeException {
  private final String node;

  private MovedMeanwhile(String message, String node) {
    super(message, null, false, false);
    this.node = node;
  }

  /** Where the VM runs now. */
  String node() {
    return node;
  }

  /**
   * Throws unless {@code cur}, read under its lock, runs on {@code from} (empty: anywhere) and
   * not on {@code target}.
   */
  static void check(VmEntry cur, String from, String target) {
    if (cur.node().equals(target)) {
      throw new MovedMeanwhile("VM '" + cur.name() + "' already runs on node " + target
          + ": another move took it there meanwhile", target);
    }
    if (!from.isEmpty() && !cur.node().equals(from)) {
      throw new MovedMeanwhile("VM '" + cur.name() + "' no longer runs on node " + from
          + ": another move took it to node " + cur.node() + " meanwhile", cur.node());
    }
  }
}
