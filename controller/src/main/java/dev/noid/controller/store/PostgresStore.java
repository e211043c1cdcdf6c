package dev.noid.controller.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.SQLException;

/** PostgreSQL, for fleets with several controllers sharing one store; a small connection pool. */
public final class PostgresStore extends JdbcStore {
  private final HikariDataSource pool;

  private PostgresStore(HikariDataSource pool) {
    this.pool = pool;
  }

  /** {@code url} is a JDBC URL, e.g. jdbc:postgresql://db:5432/noid?user=noid&password=... */
  public static PostgresStore open(String url) {
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(url);
    config.setMaximumPoolSize(8);
    config.setPoolName("noid-store");
    config.setConnectionTimeout(5000);
    config.setInitializationFailTimeout(10_000);
    try {
      PostgresStore store = new PostgresStore(new HikariDataSource(config));
      store.migrate();
      return store;
    } catch (RuntimeException e) {
      throw new StoreException("cannot open PostgreSQL store: " + e.getMessage(), e);
    }
  }

  @Override
  protected Connection connection() throws SQLException {
    return pool.getConnection();
  }

  @Override
  protected void release(Connection c) throws SQLException {
    c.close();
  }

  @Override
  public void close() {
    pool.close();
  }
}
