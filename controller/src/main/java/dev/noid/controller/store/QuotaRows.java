package dev.noid.controller.store;

import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.HashMap;
import java.util.Map;

/** Users' quota documents, in the {@code quota} column of {@code users}. */
final class QuotaRows {
  private QuotaRows() {}

  static boolean set(JdbcStore store, String name, String document) {
    return store.tx("set user quota", c -> {
      try (PreparedStatement ps = c.prepareStatement("UPDATE users SET quota = ? WHERE name = ?")) {
        ps.setString(1, document);
        ps.setString(2, name);
        return ps.executeUpdate() == 1;
      }
    });
  }

  static Map<String, String> all(JdbcStore store) {
    return store.read("list user quotas", c -> {
      Map<String, String> out = new HashMap<>();
      try (PreparedStatement ps = c.prepareStatement(
              "SELECT name, quota FROM users WHERE quota IS NOT NULL");
          ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.put(rs.getString(1), rs.getString(2));
        }
      }
      return out;
    });
  }
}
