package dev.noid.controller.store;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The embedded store: one SQLite file in the data directory, in WAL mode. SQLite serialises
 * writers anyway, so one connection behind a lock is both simplest and fastest here.
 */
public final class SqliteStore extends JdbcStore {
  private final Connection connection;
  private final ReentrantLock lock = new ReentrantLock();

  private SqliteStore(Connection connection) {
    this.connection = connection;
  }

  public static SqliteStore open(Path file) {
    try {
      Files.createDirectories(file.toAbsolutePath().getParent());
      Connection c = DriverManager.getConnection("jdbc:sqlite:" + file.toAbsolutePath());
      try (Statement s = c.createStatement()) {
        s.execute("PRAGMA journal_mode=WAL");
        s.execute("PRAGMA synchronous=NORMAL");
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
  public void close() {
    lock.lock();
    try {
      connection.close();
    } catch (SQLException e) {
      throw new StoreException("closing the store failed", e);
    } finally {
      lock.unlock();
    }
  }
}
