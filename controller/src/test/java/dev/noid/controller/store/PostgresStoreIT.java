package dev.noid.controller.store;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The store contract on a real PostgreSQL server (Debian's package) started for this class, with
 * a database of its own; each test starts from an empty schema, so each runs the migrations.
 */
class PostgresStoreIT extends StoreContract {
  private static PostgresServer server;
  private static String url;

  @BeforeAll
  static void startServer() throws Exception {
    server = PostgresServer.start();
    url = server.createDatabase("noid_store_contract");
  }

  @AfterAll
  static void stopServer() throws Exception {
    if (server != null) {
      server.close();
    }
  }

  @Override
  protected void emptyStorage() throws SQLException {
    try (Connection c = rawConnection(); Statement s = c.createStatement()) {
      s.execute("DROP SCHEMA public CASCADE");
      s.execute("CREATE SCHEMA public");
    }
  }

  @Override
  protected Store open() {
    return PostgresStore.open(url);
  }

  @Override
  protected Connection rawConnection() throws SQLException {
    return DriverManager.getConnection(url);
  }
}
