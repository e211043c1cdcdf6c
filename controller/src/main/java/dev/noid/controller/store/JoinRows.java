package dev.noid.controller.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.HashSet;
import java.util.Set;

/**
 * Joining's tables: {@code join_tokens} (one-time, hashed) and {@code node_certificates} (the
 * serials issued at join, revoked when the node is removed: the deny list).
 */
final class JoinRows {
  private JoinRows() {}

  static void insertToken(JdbcStore store, String hash, Instant expires) {
    store.write("insert join token", "INSERT INTO join_tokens (token_hash, expires_ms) VALUES (?, ?)",
        hash, expires.toEpochMilli());
  }

  static boolean consumeToken(JdbcStore store, String hash, Instant now) {
    // Anyone may try a join: an unknown token (a guess) costs a read, not a write transaction
    // (a fenced one, on PostgreSQL) on the store every VM operation shares.
    if (!store.read("check join token", c -> usable(c, hash, now))) {
      return false;
    }
    return store.tx("use join token", c -> {
      // One UPDATE decides: two agents racing with the same token cannot both win.
      try (PreparedStatement ps = c.prepareStatement(
          "UPDATE join_tokens SET used_ms = ? WHERE token_hash = ? AND used_ms IS NULL AND expires_ms > ?")) {
        ps.setLong(1, now.toEpochMilli());
        ps.setString(2, hash);
        ps.setLong(3, now.toEpochMilli());
        boolean won = ps.executeUpdate() == 1;
        // Every join that spends a token clears the expired ones, used or not, so the table
        // holds only live ones (issue 19 L4; minting a token clears them too).
        try (PreparedStatement purge = c.prepareStatement("DELETE FROM join_tokens WHERE expires_ms <= ?")) {
          purge.setLong(1, now.toEpochMilli());
          purge.executeUpdate();
        }
        return won;
      }
    });
  }

  private static boolean usable(Connection c, String hash, Instant now) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(
        "SELECT 1 FROM join_tokens WHERE token_hash = ? AND used_ms IS NULL AND expires_ms > ?")) {
      ps.setString(1, hash);
      ps.setLong(2, now.toEpochMilli());
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next();
      }
    }
  }

  static void purgeExpired(JdbcStore store, Instant now) {
    store.write("purge expired join tokens", "DELETE FROM join_tokens WHERE expires_ms <= ?",
        now.toEpochMilli());
  }

  static void record(JdbcStore store, String node, String serial, Instant issued) {
    store.write("record node certificate",
        "INSERT INTO node_certificates (serial, node, issued_ms) VALUES (?, ?, ?)",
        serial, node, issued.toEpochMilli());
  }

  static void revoke(JdbcStore store, String node, Instant at) {
    store.write("revoke node certificates",
        "UPDATE node_certificates SET revoked_ms = ? WHERE node = ? AND revoked_ms IS NULL",
        at.toEpochMilli(), node);
  }

  static Set<String> revoked(JdbcStore store) {
    return store.read("list revoked node certificates", c -> {
      Set<String> out = new HashSet<>();
      try (PreparedStatement ps = c.prepareStatement(
              "SELECT serial FROM node_certificates WHERE revoked_ms IS NOT NULL");
          ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(rs.getString(1));
        }
      }
      return out;
    });
  }
}
