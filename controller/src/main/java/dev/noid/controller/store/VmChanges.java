package dev.noid.controller.store;

import java.util.List;

/**
 * Logged VM changes after a revision, oldest first. {@code complete} is false when some of the
 * changes right after that revision are no longer kept: the reader must start from a snapshot.
 */
public record VmChanges(List<VmChangeRow> rows, boolean complete) {}
