package dev.noid.controller.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The SQL both adapters share (SQLite and PostgreSQL agree on this subset, including
 * {@code ON CONFLICT}); subclasses say how to get a connection. The schema is {@link Schema}'s.
 */
abstract class JdbcStore implements Store {
  private static final Logger log = LoggerFactory.getLogger(JdbcStore.class);

  interface SqlWork<T> {
    T run(Connection c) throws SQLException;
  }

  private final java.util.concurrent.atomic.AtomicLong logCommits =
      new java.util.concurrent.atomic.AtomicLong();
  private final java.util.concurrent.atomic.AtomicLong deletes =
      new java.util.concurrent.atomic.AtomicLong();

  protected abstract Connection connection() throws SQLException;

  /** Returns a connection obtained from {@link #connection()}. */
  protected abstract void release(Connection c) throws SQLException;

  /**
   * A statement for {@code sql} on {@code c}, for the hot write path; hand it back with
   * {@link #done(PreparedStatement)}, not close. Here a fresh one each time (PostgreSQL's
   * driver caches prepared statements itself); an adapter may keep them.
   */
  protected PreparedStatement statement(Connection c, String sql) throws SQLException {
    return c.prepareStatement(sql);
  }

  protected void done(PreparedStatement ps) throws SQLException {
    ps.close();
  }

  /** Called after a transaction was rolled back, before the connection is released. */
  protected void rolledBack(Connection c) {
  }

  /** Runs first in every transaction: where a store refuses work (a fenced leader's). */
  protected void beforeWork(Connection c) throws SQLException {
  }

  /**
   * Keeps VMs and checkpoints from being added until this transaction ends, so that a user's
   * removal sees every one committed before it (a create in flight). SQLite has one writer.
   */
  protected void holdOwnedRows(Connection c) throws SQLException {
  }

  /** A transaction that changes state: a fencing store checks its fence first. */
  <T> T tx(String what, SqlWork<T> work) {
    return run(what, work, true);
  }

  /**
   * A transaction that only reads. Never fenced: a deposed leader's reads change nothing, and
   * fencing every token lookup would put a lock on the lease row under every call.
   */
  <T> T read(String what, SqlWork<T> work) {
    return run(what, work, false);
  }

  private <T> T run(String what, SqlWork<T> work, boolean writes) {
    Connection c = null;
    try {
      c = connection();
      c.setAutoCommit(false);
      try {
        if (writes) {
          beforeWork(c);
        }
        T result = work.run(c);
        c.commit();
        return result;
      } catch (SQLException | RuntimeException e) {
        c.rollback();
        rolledBack(c);
        throw e;
      } finally {
        c.setAutoCommit(true);
      }
    } catch (SQLException e) {
      throw failed(what, e);
    } finally {
      if (c != null) {
        try {
          release(c);
        } catch (SQLException e) {
          log.warn("releasing a store connection failed", e);
        }
      }
    }
  }

  /** The exception for a failed transaction; a fencing store names the fence when it is why. */
  protected StoreException failed(String what, SQLException e) {
    return new StoreException("store: " + what + " failed: " + e.getMessage(), e);
  }

  /** One write statement in its own transaction; args bind in order (String or Long). */
  void write(String what, String sql, Object... args) {
    tx(what, c -> {
      try (PreparedStatement ps = c.prepareStatement(sql)) {
        for (int i = 0; i < args.length; i++) {
          ps.setObject(i + 1, args[i]);
        }
        ps.executeUpdate();
      }
      return null;
    });
  }

  /** Brings the schema up to {@link Schema#MIGRATIONS}' latest version. */
  void migrate() {
    tx("migration", c -> {
      Schema.migrate(c);
      return null;
    });
  }

  static boolean isUniqueViolation(SQLException e) {
    String state = e.getSQLState();
    String msg = String.valueOf(e.getMessage());
    return "23505".equals(state) || msg.contains("UNIQUE constraint failed")
        || msg.contains("SQLITE_CONSTRAINT");
  }

  // ------------------------------------------------------------------ users (see UserRows)

  @Override
  public boolean insertUser(UserRow u) {
    return UserRows.insert(this, u);
  }

  @Override
  public Optional<UserRow> user(String name) {
    return UserRows.byName(this, name);
  }

  @Override
  public Optional<UserRow> userByTokenHash(String hash) {
    return UserRows.byTokenHash(this, hash);
  }

  @Override
  public List<UserRow> users() {
    return UserRows.all(this);
  }

  @Override
  public void updateUserToken(String name, String hash, String prefix) {
    write("rotate token", "UPDATE users SET token_hash = ?, token_prefix = ? WHERE name = ?",
        hash, prefix, name);
  }

  @Override
  public boolean deleteUser(String name) {
    return UserRows.delete(this, name);
  }

  // ------------------------------------------------------------------ VMs (see VmRows)

  /** Whether VM writes are also appended to the change log (issue 22): where controllers share the store. */
  protected boolean keepsChangeLog() {
    return false;
  }

  /** A read whose statements all see one snapshot of the store. */
  protected <T> T snapshot(String what, SqlWork<T> work) {
    return read(what, work);
  }

  @Override
  public boolean insertVm(VmRow v) {
    return VmRows.insert(this, v);
  }

  @Override
  public void updateVm(VmRow v) {
    VmRows.update(this, v);
  }

  @Override
  public List<Boolean> writeVms(List<VmWrite> writes) {
    return VmRows.write(this, writes, keepsChangeLog() ? logCommits : null);
  }

  @Override
  public void deleteVm(String id) {
    tx("delete vm", c -> DeletedIdRows.delete(this, c, "vms", DeletedIdRows.VM, id));
    afterDeletes(1);
  }

  /**
   * Counts {@code n} deletes just committed, and prunes the oldest deleted ids at the first
   * delete of this process and every {@link DeletedIdRows#PRUNE_EVERY} after: in a transaction
   * of its own, after the deletes' commit, so that a pruning neither weighs on nor can undo
   * the writes it follows. A failed pruning is tried again at the next turn.
   */
  void afterDeletes(int n) {
    if (n == 0) {
      return;
    }
    long after = deletes.addAndGet(n);
    if (after == n || after / DeletedIdRows.PRUNE_EVERY != (after - n) / DeletedIdRows.PRUNE_EVERY) {
      try {
        tx("prune deleted ids", c -> {
          DeletedIdRows.prune(c);
          return null;
        });
      } catch (RuntimeException e) {
        log.warn("pruning the store's deleted ids failed; tried again later: {}", e.getMessage());
      }
    }
  }

  @Override
  public List<String> deletedIds(String kind, int max) {
    return read("list deleted " + kind + "s", c -> DeletedIdRows.latest(c, kind, max));
  }

  @Override
  public List<VmRow> vms() {
    return read("list vms", VmRows::all);
  }

  @Override
  public VmHistory vmHistory(int maxChanges) {
    if (!keepsChangeLog()) {
      List<VmRow> vms = vms();
      return new VmHistory(vms, List.of(),
          vms.stream().mapToLong(VmRow::revision).max().orElse(0));
    }
    return snapshot("read vms and their changes",
        c -> VmChangeRows.latest(c, VmRows.all(c), maxChanges));
  }

  @Override
  public VmChanges vmChangesAfter(long revision, int max) {
    if (!keepsChangeLog()) {
      return new VmChanges(List.of(), false);
    }
    return read("read vm changes", c -> VmChangeRows.after(c, revision, max));
  }

  // ------------------------------------------------------------------ checkpoints

  @Override
  public void putCheckpoint(CheckpointRow ck) {
    write("put checkpoint", "INSERT INTO checkpoints (id, owner, vm_id, node, document) VALUES (?,?,?,?,?) "
        + "ON CONFLICT (id) DO UPDATE SET node = excluded.node, document = excluded.document",
        ck.id(), ck.owner(), ck.vmId(), ck.node(), ck.document());
  }


  @Override
  public void deleteCheckpoint(String id) {
    tx("delete checkpoint",
        c -> DeletedIdRows.delete(this, c, "checkpoints", DeletedIdRows.CHECKPOINT, id));
    afterDeletes(1);
  }


  @Override
  public List<CheckpointRow> checkpoints() {
    return read("list checkpoints", c -> {
      List<CheckpointRow> out = new ArrayList<>();
      try (PreparedStatement ps = c.prepareStatement(
          "SELECT id, owner, vm_id, node, document FROM checkpoints");
          ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(new CheckpointRow(rs.getString(1), rs.getString(2), rs.getString(3),
              rs.getString(4), rs.getString(5)));
        }
      }
      return out;
    });
  }

  // ------------------------------------------------------------------ nodes

  @Override
  public void putNode(NodeRow node) {
    write("put node", "INSERT INTO nodes (name, document) VALUES (?,?) "
        + "ON CONFLICT (name) DO UPDATE SET document = excluded.document",
        node.name(), node.document());
  }


  @Override
  public void deleteNode(String name) {
    write("delete node", "DELETE FROM nodes WHERE name = ?",
        name);
  }


  @Override
  public List<NodeRow> nodes() {
    return read("list nodes", c -> {
      List<NodeRow> out = new ArrayList<>();
      try (PreparedStatement ps = c.prepareStatement("SELECT name, document FROM nodes ORDER BY name");
          ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(new NodeRow(rs.getString(1), rs.getString(2)));
        }
      }
      return out;
    });
  }

  @Override
  public void putImage(ImageRow image) {
    ImageRows.put(this, image);
  }

  @Override
  public List<ImageRow> images() {
    return ImageRows.all(this);
  }

  @Override
  public boolean deleteImage(String name) {
    return ImageRows.delete(this, name);
  }

  @Override
  public boolean setUserQuota(String name, String document) {
    return QuotaRows.set(this, name, document);
  }

  @Override
  public java.util.Map<String, String> userQuotas() {
    return QuotaRows.all(this);
  }

  // ------------------------------------------------------------------ joins (see JoinRows)

  @Override
  public void insertJoinToken(String hash, Instant expires) {
    JoinRows.insertToken(this, hash, expires);
  }

  @Override
  public boolean consumeJoinToken(String hash, Instant now) {
    return JoinRows.consumeToken(this, hash, now);
  }

  @Override
  public void purgeExpiredJoinTokens(Instant now) {
    JoinRows.purgeExpired(this, now);
  }

  @Override
  public void recordNodeCertificate(String node, String serial, Instant issued) {
    JoinRows.record(this, node, serial, issued);
  }

  @Override
  public void revokeNodeCertificates(String node, Instant at) {
    JoinRows.revoke(this, node, at);
  }

  @Override
  public java.util.Set<String> revokedCertificateSerials() {
    return JoinRows.revoked(this);
  }

  @Override
  public boolean ping() {
    try {
      return read("ping", c -> {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT 1")) {
          return rs.next();
        }
      });
    } catch (StoreException e) {
      return false;
    }
  }
}
