package dev.noid.controller.store;

import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Instant;
import java.util.HashSet;
import java.util.Set;

/** The {@code node_certificates} table: the deny list of removed nodes' certificates. */
final class NodeCertificateRows {
  private NodeCertificateRows() {}

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
    return store.tx("list revoked node certificates", c -> {
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
