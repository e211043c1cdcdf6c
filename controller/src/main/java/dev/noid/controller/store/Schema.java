package dev.noid.controller.store;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The store's tables, as numbered migrations applied in order inside one transaction and
 * recorded in {@code schema_version}: SQLite and PostgreSQL both run them.
 */
final class Schema {
  private static final Logger log = LoggerFactory.getLogger(Schema.class);

  private Schema() {}

  /** Never edit an applied migration: add a new one. */
  static final List<String> MIGRATIONS = List.of(
      """
      CREATE TABLE users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        token_prefix TEXT NOT NULL,
        created_ms BIGINT NOT NULL);
      CREATE TABLE vms (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        name TEXT NOT NULL,
        node TEXT NOT NULL,
        state TEXT NOT NULL,
        revision BIGINT NOT NULL,
        document TEXT NOT NULL,
        UNIQUE (owner, name));
      CREATE TABLE checkpoints (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        vm_id TEXT NOT NULL,
        node TEXT NOT NULL,
        document TEXT NOT NULL);
      CREATE TABLE nodes (
        name TEXT PRIMARY KEY,
        document TEXT NOT NULL);
      CREATE TABLE join_tokens (
        token_hash TEXT PRIMARY KEY,
        expires_ms BIGINT NOT NULL,
        used_ms BIGINT)
      """,
      // Serials of node certificates, so that a removed node's certificate can be refused.
      """
      CREATE TABLE node_certificates (
        serial TEXT PRIMARY KEY,
        node TEXT NOT NULL,
        issued_ms BIGINT NOT NULL,
        revoked_ms BIGINT)
      """,
      // Per-user quotas (issue 19 M2): a JSON document, NULL for none; removed with the user.
      """
      ALTER TABLE users ADD COLUMN quota TEXT
      """,
      // Fleet images (issue 20): a name points at one ext4 root filesystem, by its digest.
      """
      CREATE TABLE images (
        name TEXT PRIMARY KEY,
        digest TEXT NOT NULL,
        size_bytes BIGINT NOT NULL,
        origin TEXT NOT NULL,
        architecture TEXT NOT NULL,
        created_ms BIGINT NOT NULL)
      """,
      // An image's own kernel (issue 20): what its VMs boot, and the digests of the kernel and
      // modules files nodes pull beside the ext4 file ('' when it boots the node's kernel).
      """
      ALTER TABLE images ADD COLUMN kernel TEXT NOT NULL DEFAULT 'node default';
      ALTER TABLE images ADD COLUMN kernel_sha256 TEXT NOT NULL DEFAULT '';
      ALTER TABLE images ADD COLUMN modules_sha256 TEXT NOT NULL DEFAULT ''
      """,
      // Controller HA (issue 22): the leader's lease (one row) and every controller's address.
      // Times are the database's clock in ms, so controllers' clocks never have to agree.
      """
      CREATE TABLE controller_lease (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        address TEXT NOT NULL,
        epoch BIGINT NOT NULL,
        expires_ms BIGINT NOT NULL);
      CREATE TABLE controllers (
        holder TEXT PRIMARY KEY,
        address TEXT NOT NULL,
        seen_ms BIGINT NOT NULL)
      """,
      // The VM change log (issue 22): what a new leader or a follower replays to watchers that
      // resume. The horizon is the revision up to which changes are no longer kept; changes
      // from before the log existed never were.
      """
      CREATE TABLE vm_changes (
        revision BIGINT PRIMARY KEY,
        kind TEXT NOT NULL,
        owner TEXT NOT NULL,
        document TEXT NOT NULL);
      CREATE TABLE vm_change_horizon (revision BIGINT NOT NULL);
      INSERT INTO vm_change_horizon (revision) SELECT COALESCE(MAX(revision), 0) FROM vms
      """,
      // A user's removal looks for their checkpoints while it holds VM writes off (PostgreSQL,
      // UserRows.delete): by index, not a scan of every checkpoint of every user.
      """
      CREATE INDEX checkpoints_owner ON checkpoints (owner)
      """,
      // What was deleted (DeletedIdRows): a node's late copy of it is a leftover, after a
      // restart too, not a wrong store's.
      """
      CREATE TABLE deleted_ids (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        deleted_ms BIGINT NOT NULL);
      CREATE INDEX deleted_ids_kind_time ON deleted_ids (kind, deleted_ms, id)
      """);

  static void migrate(Connection c) throws SQLException {
    try (Statement s = c.createStatement()) {
      s.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
      int current = 0;
      try (ResultSet rs = s.executeQuery("SELECT MAX(version) FROM schema_version")) {
        if (rs.next()) {
          current = rs.getInt(1);
        }
      }
      for (int v = current; v < MIGRATIONS.size(); v++) {
        for (String statement : MIGRATIONS.get(v).split(";")) {
          if (!statement.isBlank()) {
            s.execute(statement);
          }
        }
        s.execute("INSERT INTO schema_version (version) VALUES (" + (v + 1) + ")");
        log.info("store schema migrated to version {}", v + 1);
      }
    }
  }
}
