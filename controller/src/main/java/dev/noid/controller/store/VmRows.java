package dev.noid.controller.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/** The {@code vms} table, and its change log where the store keeps one ({@link VmChangeRows}). */
final class VmRows {
  /**
   * Only for an owner who is a user still: a create that was under way as its user was removed
   * must not leave a VM owned by a name no one holds, which the next user of the name would get.
   * ON CONFLICT DO NOTHING, not a caught violation: PostgreSQL aborts the whole transaction on an
   * error, and one taken name must not fail its neighbours in a group commit.
   */
  private static final String INSERT = "INSERT INTO vms (id, owner, name, node, state, revision,"
      + " document) SELECT ?,?,?,?,?,?,? WHERE EXISTS (SELECT 1 FROM users WHERE name = ?)"
      + " ON CONFLICT DO NOTHING";

  private VmRows() {}

  static boolean insert(JdbcStore store, VmRow v) {
    return store.tx("insert vm", c -> {
      try (PreparedStatement ps = c.prepareStatement(INSERT)) {
        bind(ps, v);
        return ps.executeUpdate() == 1;
      }
    });
  }

  static void update(JdbcStore store, VmRow v) {
    store.write("update vm", "UPDATE vms SET node = ?, state = ?, revision = ?, document = ? WHERE id = ?",
        v.node(), v.state(), v.revision(), v.document(), v.id());
  }

  /** {@code logCommits}: the store's count of logged commits, or null where it keeps no log. */
  static List<Boolean> write(JdbcStore store, List<VmWrite> writes, AtomicLong logCommits) {
    List<Boolean> out = store.tx("write " + writes.size() + " vm changes", c -> {
      List<Boolean> done = apply(store, c, writes);
      if (logCommits != null) {
        List<VmWrite> applied = new ArrayList<>(writes.size());
        for (int i = 0; i < writes.size(); i++) {
          if (done.get(i)) {
            applied.add(writes.get(i));
          }
        }
        VmChangeRows.append(store, c, applied);
        if (logCommits.incrementAndGet() % VmChangeRows.PRUNE_EVERY == 0) {
          VmChangeRows.prune(c);
        }
      }
      return done;
    });
    store.afterDeletes((int) writes.stream().filter(w -> w.kind() == VmWrite.Kind.DELETE).count());
    return out;
  }

  private static List<Boolean> apply(JdbcStore store, Connection c, List<VmWrite> writes)
      throws SQLException {
    List<Boolean> out = new ArrayList<>(writes.size());
    PreparedStatement insert = store.statement(c, INSERT);
    PreparedStatement update = store.statement(c,
        "UPDATE vms SET node = ?, state = ?, revision = ?, document = ? WHERE id = ?");
    PreparedStatement delete = store.statement(c, "DELETE FROM vms WHERE id = ?");
    PreparedStatement deleted = null;
    try {
      for (VmWrite w : writes) {
        switch (w.kind()) {
          case INSERT -> {
            bind(insert, w.row());
            out.add(insert.executeUpdate() == 1);
          }
          case UPDATE -> {
            VmRow v = w.row();
            update.setString(1, v.node());
            update.setString(2, v.state());
            update.setLong(3, v.revision());
            update.setString(4, v.document());
            update.setString(5, v.id());
            update.executeUpdate();
            out.add(true);
          }
          case DELETE -> {
            delete.setString(1, w.id());
            delete.executeUpdate();
            if (deleted == null) {
              deleted = DeletedIdRows.statement(store, c);
            }
            DeletedIdRows.bind(deleted, DeletedIdRows.VM, w.id());
            deleted.executeUpdate();
            out.add(true);
          }
        }
      }
    } finally {
      store.done(insert);
      store.done(update);
      store.done(delete);
      if (deleted != null) {
        store.done(deleted);
      }
    }
    return out;
  }

  static List<VmRow> all(Connection c) throws SQLException {
    List<VmRow> out = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement(
        "SELECT id, owner, name, node, state, revision, document FROM vms");
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        out.add(new VmRow(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4),
            rs.getString(5), rs.getLong(6), rs.getString(7)));
      }
    }
    return out;
  }

  private static void bind(PreparedStatement ps, VmRow v) throws SQLException {
    ps.setString(1, v.id());
    ps.setString(2, v.owner());
    ps.setString(3, v.name());
    ps.setString(4, v.node());
    ps.setString(5, v.state());
    ps.setLong(6, v.revision());
    ps.setString(7, v.document());
    ps.setString(8, v.owner());
  }
}
