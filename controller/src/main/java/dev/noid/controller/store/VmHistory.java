package dev.noid.controller.store;

import java.util.List;

/**
 * The VMs and the latest changes to them, read in one snapshot of the store (issue 22): the
 * changes end where the VMs are. {@code completeAfter}: every change after this revision is in
 * {@code changes}, so a watcher that has seen it can be replayed what it missed.
 */
public record VmHistory(List<VmRow> vms, List<VmChangeRow> changes, long completeAfter) {}
