package dev.noid.controller.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * The ids of the VMs and checkpoints this store deleted, the latest {@value #KEEP} of each
 * kind, written in the delete's own transaction: a copy a node reports later (a stray VM, a
 * checkpoint's copy that landed late) is then known for a leftover also after a controller's
 * restart or a failover, not taken for a wrong store's.
 */
final class DeletedIdRows {
  static final String VM = Store.DELETED_VM;
  static final String CHECKPOINT = Store.DELETED_CHECKPOINT;
  static final int KEEP = 100_000;
  /** Deletes between prunings: each pruning is one indexed range delete. */
  static final int PRUNE_EVERY = 1024;

  private static final String INSERT = "INSERT INTO deleted_ids (id, kind, deleted_ms)"
      + " VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET deleted_ms = excluded.deleted_ms";

  private DeletedIdRows() {}

  /** A statement that records deletes of {@code kind}; bind with {@link #bind}. */
  static PreparedStatement statement(JdbcStore store, Connection c) throws SQLException {
    return store.statement(c, INSERT);
  }

  static void bind(PreparedStatement ps, String kind, String id) throws SQLException {
    ps.setString(1, id);
    ps.setString(2, kind);
    ps.setLong(3, System.currentTimeMillis());
  }

  /** Deletes row {@code id} of {@code table} ("vms" or "checkpoints") and records it. */
  static Void delete(JdbcStore store, Connection c, String table, String kind, String id)
      throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + table + " WHERE id = ?")) {
      ps.setString(1, id);
      ps.executeUpdate();
    }
    PreparedStatement ps = statement(store, c);
    try {
      bind(ps, kind, id);
      ps.executeUpdate();
    } finally {
      store.done(ps);
    }
    return null;
  }

  /** Drops all but the latest {@link #KEEP} of each kind. */
  static void prune(Connection c) throws SQLException {
    prune(c, KEEP);
  }

  /** Drops all but the latest {@code keep} of each kind (and any deleted in the same ms). */
  static void prune(Connection c, int keep) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("DELETE FROM deleted_ids WHERE kind = ?"
        + " AND deleted_ms < (SELECT deleted_ms FROM deleted_ids WHERE kind = ?"
        + " ORDER BY deleted_ms DESC LIMIT 1 OFFSET " + (keep - 1) + ")")) {
      for (String kind : List.of(VM, CHECKPOINT)) {
        ps.setString(1, kind);
        ps.setString(2, kind);
        ps.executeUpdate();
      }
    }
  }

  /** The latest {@code max} ids of {@code kind}, newest first. */
  static List<String> latest(Connection c, String kind, int max) throws SQLException {
    List<String> out = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT id FROM deleted_ids WHERE kind = ?"
        + " ORDER BY deleted_ms DESC LIMIT " + max)) {
      ps.setString(1, kind);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(rs.getString(1));
        }
      }
    }
    return out;
  }
}
