package dev.noid.controller.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The VM change log (issue 22): every VM write appends its change in the same transaction, so
 * the log holds exactly the committed changes, in revision order (a leader commits one batch at
 * a time, and a fenced store lets no deposed leader commit). It keeps the latest {@link #KEEP};
 * {@code vm_change_horizon} holds the revision up to which older ones were dropped.
 */
final class VmChangeRows {
  /** As many changes as a controller's in-memory watch history keeps. */
  static final int KEEP = 10_000;
  /** Dropping old changes costs a query: do it once every this many commits. */
  static final int PRUNE_EVERY = 256;

  private VmChangeRows() {}

  /** Appends {@code writes}' changes, inside the transaction that applies them. */
  static void append(JdbcStore store, Connection c, List<VmWrite> writes) throws SQLException {
    PreparedStatement ps = store.statement(c,
        "INSERT INTO vm_changes (revision, kind, owner, document) VALUES (?,?,?,?)");
    try {
      for (VmWrite w : writes) {
        ps.setLong(1, w.row().revision());
        ps.setString(2, w.kind().name());
        ps.setString(3, w.row().owner());
        ps.setString(4, w.row().document());
        ps.addBatch();
      }
      ps.executeBatch();
    } finally {
      store.done(ps);
    }
  }

  /** Drops all but the latest {@link #KEEP} changes and moves the horizon past them. */
  static void prune(Connection c) throws SQLException {
    long cut;
    try (PreparedStatement ps = c.prepareStatement(
        "SELECT revision FROM vm_changes ORDER BY revision DESC LIMIT 1 OFFSET " + KEEP);
        ResultSet rs = ps.executeQuery()) {
      if (!rs.next()) {
        return;
      }
      cut = rs.getLong(1);
    }
    try (PreparedStatement ps = c.prepareStatement("DELETE FROM vm_changes WHERE revision <= ?")) {
      ps.setLong(1, cut);
      ps.executeUpdate();
    }
    try (PreparedStatement ps = c.prepareStatement("UPDATE vm_change_horizon SET revision = ?")) {
      ps.setLong(1, cut);
      ps.executeUpdate();
    }
  }

  /** The latest {@code max} changes, oldest first, and the revision they are complete after. */
  static VmHistory latest(Connection c, List<VmRow> vms, int max) throws SQLException {
    List<VmChangeRow> rows = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT revision, kind, document FROM"
        + " vm_changes ORDER BY revision DESC LIMIT " + Math.max(0, max))) {
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          rows.add(row(rs));
        }
      }
    }
    Collections.reverse(rows);
    long horizon = horizon(c);
    // Fewer than asked: that is the whole log. Otherwise older ones may exist, and a watcher
    // is only sure to miss nothing from just before the oldest one read.
    long completeAfter = rows.size() < max || rows.isEmpty() ? horizon
        : Math.max(horizon, rows.getFirst().revision() - 1);
    // A VM written after the last logged change was written by a controller that does not log
    // (one of an older version, during an upgrade): nothing before it can be replayed.
    long logged = rows.isEmpty() ? horizon : rows.getLast().revision();
    long newest = vms.stream().mapToLong(VmRow::revision).max().orElse(0);
    if (newest > logged) {
      completeAfter = Math.max(completeAfter, newest);
    }
    return new VmHistory(vms, rows, completeAfter);
  }

  static VmChanges after(Connection c, long revision, int max) throws SQLException {
    List<VmChangeRow> rows = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT revision, kind, document FROM"
        + " vm_changes WHERE revision > ? ORDER BY revision LIMIT " + Math.max(1, max))) {
      ps.setLong(1, revision);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          rows.add(row(rs));
        }
      }
    }
    return new VmChanges(rows, revision >= horizon(c));
  }

  private static long horizon(Connection c) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT MAX(revision) FROM vm_change_horizon");
        ResultSet rs = ps.executeQuery()) {
      return rs.next() ? rs.getLong(1) : 0;
    }
  }

  private static VmChangeRow row(ResultSet rs) throws SQLException {
    return new VmChangeRow(rs.getLong(1), VmWrite.Kind.valueOf(rs.getString(2)), rs.getString(3));
  }
}
