package dev.noid.controller.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * PostgreSQL, for fleets with several controllers sharing one store; a small connection pool.
 * It holds the controllers' lease and fences the leader's writes ({@link ControllerLease}).
 */
public final class PostgresStore extends JdbcStore implements ControllerLease {
  private static final Logger log = LoggerFactory.getLogger(PostgresStore.class);
  // Any constant: the key of the advisory lock that lets one controller migrate at a time.
  private static final long MIGRATION_LOCK = 0x6e6f6964L;
  private final HikariDataSource pool;
  // The lease's own connections: a claim never waits behind the API's transactions for one.
  private final HikariDataSource leasePool;
  private final Set<Connection> inUse = ConcurrentHashMap.newKeySet();
  private volatile long fencedEpoch;
  private volatile String deposed;

  private PostgresStore(HikariDataSource pool, HikariDataSource leasePool) {
    this.pool = pool;
    this.leasePool = leasePool;
  }

  /** {@code url} is a JDBC URL, e.g. jdbc:postgresql://db:5432/noid?user=noid&password=... */
  public static PostgresStore open(String url) {
    HikariDataSource pool = null;
    try {
      pool = new HikariDataSource(config(url, "noid-store", 8, 5000));
      HikariDataSource lease = new HikariDataSource(config(url, "noid-lease", 2, 1000));
      PostgresStore store = new PostgresStore(pool, lease);
      store.migrate();
      return store;
    } catch (RuntimeException e) {
      if (pool != null) {
        pool.close();
      }
      throw new StoreException("cannot open PostgreSQL store: " + e.getMessage(), e);
    }
  }

  private static HikariConfig config(String url, String name, int size, long connectTimeoutMs) {
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(url);
    config.setMaximumPoolSize(size);
    config.setPoolName(name);
    config.setConnectionTimeout(connectTimeoutMs);
    config.setInitializationFailTimeout(10_000);
    // A controller that dies or is cut off inside a transaction leaves its session holding the
    // lease row's lock until PostgreSQL ends it: make that seconds, not TCP's hours. Our
    // transactions never wait on the client between statements for anywhere near this long.
    config.setConnectionInitSql("SET idle_in_transaction_session_timeout = '5s'");
    return config;
  }

  /**
   * READ COMMITTED would let a user's removal miss a VM whose insert commits after its check:
   * SHARE waits for the writes under way and holds off new ones for the removal's few ms.
   */
  @Override
  protected void holdOwnedRows(Connection c) throws SQLException {
    try (Statement s = c.createStatement()) {
      s.execute("LOCK TABLE vms, checkpoints IN SHARE MODE");
    }
  }

  @Override
  protected Connection connection() throws SQLException {
    if (deposed != null) {
      throw new FencedException(deposed);
    }
    Connection c = pool.getConnection();
    inUse.add(c);
    return c;
  }

  @Override
  protected void release(Connection c) throws SQLException {
    inUse.remove(c);
    c.close();
  }

  @Override
  protected void beforeWork(Connection c) throws SQLException {
    if (deposed != null) {
      throw new FencedException(deposed + " (not applied)");
    }
    long epoch = fencedEpoch;
    if (epoch == 0) {
      return;
    }
    long current = PostgresLease.currentEpoch(c);
    if (current != epoch) {
      depose("controller lost the lead: epoch " + current + " holds the lease, this controller"
          + " held epoch " + epoch);
      throw new FencedException(deposed + " (not applied)");
    }
  }

  // Only here: several controllers share this store, and the others follow the leader's
  // changes through the log (issue 22).
  @Override
  protected boolean keepsChangeLog() {
    return true;
  }

  @Override
  protected <T> T snapshot(String what, SqlWork<T> work) {
    return read(what, c -> {
      // The first statement fixes the snapshot; the level must be set before it.
      c.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
      T result;
      try {
        result = work.run(c);
      } catch (SQLException | RuntimeException e) {
        try {
          c.rollback();
        } catch (SQLException | RuntimeException again) {
          e.addSuppressed(again); // the read's own failure is the one to report
        }
        throw e;
      }
      c.rollback(); // it only read; the level can change only between transactions
      c.setTransactionIsolation(Connection.TRANSACTION_READ_COMMITTED);
      return result;
    });
  }

  // Several controllers may start on an empty database at once: one migrates at a time.
  @Override
  void migrate() {
    tx("migration", c -> {
      try (Statement s = c.createStatement()) {
        s.execute("SELECT pg_advisory_xact_lock(" + MIGRATION_LOCK + ")");
      }
      Schema.migrate(c);
      return null;
    });
  }

  @Override
  protected StoreException failed(String what, SQLException e) {
    String why = deposed;
    if (why != null) {
      // Aborted in flight: its commit may have reached the server just before.
      return new FencedException(why + " (" + what + " was in flight: it may or may not have"
          + " been applied; check on the leader before repeating it)");
    }
    return super.failed(what, e);
  }

  @Override
  public Holder claim(String holder, String address, Duration ttl) {
    return unfenced("lease claim", c -> PostgresLease.claim(c, holder, address, ttl));
  }

  @Override
  public List<String> controllerAddresses(Duration recent) {
    return unfenced("controller list", c -> PostgresLease.addresses(c, recent));
  }

  @Override
  public void fence(long epoch) {
    fencedEpoch = epoch;
  }

  @Override
  public void depose(String why) {
    if (deposed != null) {
      return;
    }
    deposed = why;
    log.error("store fenced: {}", why);
    // Writes blocked on a cut link would wait for TCP to give up: end them now, with the fence.
    Executor now = Runnable::run;
    for (Connection c : List.copyOf(inUse)) {
      try {
        c.abort(now);
      } catch (SQLException | RuntimeException e) {
        log.debug("aborting a store connection", e);
      }
    }
  }

  @Override
  public boolean raiseEpoch(long epoch) {
    return unfenced("lease epoch raise", c -> PostgresLease.raiseEpoch(c, epoch));
  }

  @Override
  public void release(String holder) {
    unfenced("lease release", c -> {
      PostgresLease.release(c, holder);
      return null;
    });
  }

  private <T> T unfenced(String what, SqlWork<T> work) {
    try (Connection c = leasePool.getConnection()) {
      return work.run(c);
    } catch (SQLException e) {
      throw new StoreException("store: " + what + " failed: " + e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    pool.close();
    leasePool.close();
  }
}
