package dev.noid.controller.store;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The embedded store: one SQLite file in the data directory, in WAL mode. SQLite serialises
 * writers anyway, so one connection behind a lock is both simplest and fastest here.
 */
public final class SqliteStore extends JdbcStore {
  private final Connection connection;
  private final ReentrantLock lock = new ReentrantLock();
  // Compiled once, kept for the connection's life (guarded by lock): in a profile of batched
  // creates, compiling SQL took a tenth of the store's time.
  private final Map<String, PreparedStatement> statements = new HashMap<>();

  private SqliteStore(Connection connection) {
    this.connection = connection;
  }

  public static SqliteStore open(Path file) {
    try {
      Files.createDirectories(file.toAbsolutePath().getParent());
      Properties props = new Properties();
      // The driver otherwise matches every statement against an INSERT pattern and, for an
      // insert, compiles and runs "SELECT last_insert_rowid()" for getGeneratedKeys(), which
      // nothing here calls.
      props.setProperty("jdbc.get_generated_keys", "false");
      Connection c = DriverManager.getConnection("jdbc:sqlite:" + file.toAbsolutePath(), props);
      try (Statement s = c.createStatement()) {
        s.execute("PRAGMA journal_mode=WAL");
        // FULL, not NORMAL: in WAL mode NORMAL skips the fsync of each commit, so the last
        // commits (a VM's reservation, a used join token) could be lost on power loss after
        // the client was told they happened (issue 19, M6). Group commit keeps it one fsync
        // per batch.
        s.execute("PRAGMA synchronous=FULL");
        s.execute("PRAGMA foreign_keys=ON");
        s.execute("PRAGMA busy_timeout=5000");
        // SQLite's default page cache is 2 MiB: at 100,000 VMs (about 100 MiB of rows and
        // indexes) nearly every write by a random VM id read its B-tree pages back from the
        // OS with a syscall each. Pages mapped into memory, and a cache that holds the hot
        // part of the tables, make those reads memory reads. Both are native memory, not heap.
        s.execute("PRAGMA cache_size=-65536");
        s.execute("PRAGMA mmap_size=1073741824");
      }
      SqliteStore store = new SqliteStore(c);
      store.migrate();
      return store;
    } catch (SQLException | java.io.IOException e) {
      throw new StoreException("cannot open SQLite store " + file + ": " + e.getMessage(), e);
    }
  }

  /** SQLite's {@code PRAGMA synchronous} on the store's own connection (0 OFF .. 3 EXTRA). */
  int synchronousLevel() {
    Connection c = connection();
    try (Statement s = c.createStatement();
        var rs = s.executeQuery("PRAGMA synchronous")) {
      rs.next();
      return rs.getInt(1);
    } catch (SQLException e) {
      throw new StoreException("cannot read PRAGMA synchronous: " + e.getMessage(), e);
    } finally {
      release(c);
    }
  }

  @Override
  protected Connection connection() {
    lock.lock();
    return connection;
  }

  @Override
  protected void release(Connection c) {
    lock.unlock();
  }

  @Override
  protected PreparedStatement statement(Connection c, String sql) throws SQLException {
    PreparedStatement ps = statements.get(sql);
    if (ps == null) {
      ps = c.prepareStatement(sql);
      statements.put(sql, ps);
    }
    return ps;
  }

  @Override
  protected void done(PreparedStatement ps) {
    // Kept for the next commit.
  }

  @Override
  protected void rolledBack(Connection c) {
    // A statement that failed mid-way is compiled afresh rather than trusted again.
    closeStatements();
  }

  private void closeStatements() {
    for (PreparedStatement ps : statements.values()) {
      try {
        ps.close();
      } catch (SQLException e) {
        // Closing a statement of a connection that is going away anyway.
      }
    }
    statements.clear();
  }

  @Override
  public void close() {
    lock.lock();
    try {
      closeStatements();
      connection.close();
    } catch (SQLException e) {
      throw new StoreException("closing the store failed", e);
    } finally {
      lock.unlock();
    }
  }
}
