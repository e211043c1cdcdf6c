package dev.noid.controller.store;

import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** The {@code users} table: who may call, by the hash of their token. */
final class UserRows {
  private static final String COLUMNS = "name, role, token_hash, token_prefix, created_ms";

  private UserRows() {}

  static boolean insert(JdbcStore store, UserRow u) {
    return store.tx("insert user", c -> {
      try (PreparedStatement ps = c.prepareStatement(
          "INSERT INTO users (" + COLUMNS + ") VALUES (?,?,?,?,?)")) {
        ps.setString(1, u.name());
        ps.setString(2, u.role());
        ps.setString(3, u.tokenHash());
        ps.setString(4, u.tokenPrefix());
        ps.setLong(5, u.created().toEpochMilli());
        ps.executeUpdate();
        return true;
      } catch (SQLException e) {
        if (JdbcStore.isUniqueViolation(e)) {
          return false;
        }
        throw e;
      }
    });
  }

  static Optional<UserRow> byName(JdbcStore store, String name) {
    return one(store, "SELECT " + COLUMNS + " FROM users WHERE name = ?", name);
  }

  static Optional<UserRow> byTokenHash(JdbcStore store, String hash) {
    return one(store, "SELECT " + COLUMNS + " FROM users WHERE token_hash = ?", hash);
  }

  static List<UserRow> all(JdbcStore store) {
    return store.read("list users", c -> {
      List<UserRow> out = new ArrayList<>();
      try (PreparedStatement ps = c.prepareStatement(
          "SELECT " + COLUMNS + " FROM users ORDER BY name");
          ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(row(rs));
        }
      }
      return out;
    });
  }

  /** Removes the user unless a VM or checkpoint is theirs, counting those being added. */
  static boolean delete(JdbcStore store, String name) {
    return store.tx("delete user", c -> {
      store.holdOwnedRows(c);
      for (String sql : List.of("SELECT 1 FROM vms WHERE owner = ? LIMIT 1",
          "SELECT 1 FROM checkpoints WHERE owner = ? LIMIT 1")) {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
          ps.setString(1, name);
          try (ResultSet rs = ps.executeQuery()) {
            if (rs.next()) {
              return false;
            }
          }
        }
      }
      try (PreparedStatement ps = c.prepareStatement("DELETE FROM users WHERE name = ?")) {
        ps.setString(1, name);
        ps.executeUpdate();
      }
      return true;
    });
  }

  private static Optional<UserRow> one(JdbcStore store, String sql, String arg) {
    return store.read("read user", c -> {
      try (PreparedStatement ps = c.prepareStatement(sql)) {
        ps.setString(1, arg);
        try (ResultSet rs = ps.executeQuery()) {
          return rs.next() ? Optional.of(row(rs)) : Optional.<UserRow>empty();
        }
      }
    });
  }

  private static UserRow row(ResultSet rs) throws SQLException {
    return new UserRow(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4),
        Instant.ofEpochMilli(rs.getLong(5)));
  }
}
