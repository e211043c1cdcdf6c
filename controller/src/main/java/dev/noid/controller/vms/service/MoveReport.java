package dev.noid.controller.vms.service;

import dev.noid.controller.agents.NodeMigrations.Finished;
import dev.noid.controller.agents.NodeMigrations.Sent;
import dev.noid.controller.vms.VmEntry;

/**
 * How a VM moved: live (with what the migration moved and how long the guest stood still, by
 * its own clock against the hosts') or by checkpoint, with why it was not live.
 *
 * @param downtimeMs -1 when either end could not read the guest's clock
 */
public record MoveReport(boolean live, String fallbackReason, String source, String target,
    long memoryBytes, long diskBytes, int rounds, long downtimeMs, long downtimeErrorMs,
    long hypervisorDowntimeMs, long totalMs) {

  /** The VM after the move, and how it moved. */
  public record Moved(VmEntry vm, MoveReport report) {}

  static MoveReport live(String source, String target, Sent sent, Finished done) {
    boolean known = sent.offsetErrorNs() >= 0 && done.offsetErrorNs() >= 0;
    long downtime = known ? Math.max(0, (done.guestOffsetNs() - sent.guestOffsetNs()) / 1_000_000)
        : -1;
    long error = known ? (sent.offsetErrorNs() + done.offsetErrorNs()) / 1_000_000 : 0;
    return new MoveReport(true, "", source, target, sent.ramBytes(), sent.diskBytes(),
        sent.rounds(), downtime, error, sent.vmmDowntimeMs(), sent.totalMs());
  }

  static MoveReport byCheckpoint(String source, String target, String why, long totalMs) {
    return new MoveReport(false, why, source, target, 0, 0, 0, -1, 0, 0, totalMs);
  }

  @Override
  public String toString() {
    if (!live) {
      return "by checkpoint (" + fallbackReason + ") in " + totalMs + " ms";
    }
    return (memoryBytes >> 20) + " MiB of memory in " + rounds + " rounds, " + (diskBytes >> 20)
        + " MiB of disk, downtime " + (downtimeMs < 0 ? "unknown" : downtimeMs + " ms ±"
        + downtimeErrorMs) + " in the guest (" + hypervisorDowntimeMs + " ms by the VMM), "
        + totalMs + " ms in all";
  }
}
