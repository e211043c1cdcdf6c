package dev.noid.controller.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** The lease's SQL (PostgreSQL): run on connections of their own, outside the fence. */
final class PostgresLease {
  private static final String NOW_MS = "(extract(epoch from clock_timestamp()) * 1000)::bigint";
  private static final String ROW = "leader";

  private PostgresLease() {}

  static ControllerLease.Holder claim(Connection c, String holder, String address, Duration ttl)
      throws SQLException {
    long ttlMs = ttl.toMillis();
    c.setAutoCommit(false);
    try {
      // Behind a lock a lost session still holds, wait less than a renewal round and retry.
      update(c, "SET LOCAL lock_timeout = '" + Math.max(100, ttlMs / 6) + "ms'");
      update(c, "INSERT INTO controllers (holder, address, seen_ms) VALUES (?, ?, " + NOW_MS
          + ") ON CONFLICT (holder) DO UPDATE SET address = EXCLUDED.address,"
          + " seen_ms = EXCLUDED.seen_ms", holder, address);
      update(c, "INSERT INTO controller_lease (name, holder, address, epoch, expires_ms)"
          + " VALUES (?, ?, ?, 1, " + NOW_MS + " + ?) ON CONFLICT (name) DO NOTHING",
          ROW, holder, address, ttlMs);
      ControllerLease.Holder result;
      try (PreparedStatement ps = c.prepareStatement("SELECT holder, address, epoch,"
          + " expires_ms < " + NOW_MS + " FROM controller_lease WHERE name = ? FOR UPDATE")) {
        ps.setString(1, ROW);
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          String current = rs.getString(1);
          long epoch = rs.getLong(3);
          boolean expired = rs.getBoolean(4);
          if (current.equals(holder)) {
            update(c, "UPDATE controller_lease SET expires_ms = " + NOW_MS + " + ? WHERE name = ?",
                ttlMs, ROW);
            result = new ControllerLease.Holder(holder, address, epoch, true);
          } else if (expired) {
            update(c, "UPDATE controller_lease SET holder = ?, address = ?, epoch = ?,"
                + " expires_ms = " + NOW_MS + " + ? WHERE name = ?", holder, address, epoch + 1,
                ttlMs, ROW);
            result = new ControllerLease.Holder(holder, address, epoch + 1, true);
          } else {
            result = new ControllerLease.Holder(current, rs.getString(2), epoch, false);
          }
        }
      }
      c.commit();
      return result;
    } catch (SQLException | RuntimeException e) {
      c.rollback();
      throw e;
    } finally {
      c.setAutoCommit(true);
    }
  }

  static List<String> addresses(Connection c, Duration recent) throws SQLException {
    List<String> out = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT DISTINCT address FROM controllers"
        + " WHERE seen_ms > " + NOW_MS + " - ? ORDER BY address")) {
      ps.setLong(1, recent.toMillis());
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(rs.getString(1));
        }
      }
    }
    return out;
  }

  static boolean raiseEpoch(Connection c, long epoch) throws SQLException {
    return update(c, "UPDATE controller_lease SET epoch = ? WHERE name = ? AND epoch < ?", epoch,
        ROW, epoch) > 0;
  }

  static void release(Connection c, String holder) throws SQLException {
    update(c, "UPDATE controller_lease SET expires_ms = 0 WHERE name = ? AND holder = ?", ROW,
        holder);
  }

  /** The epoch holding the lease, read under a shared lock that a takeover waits for. */
  static long currentEpoch(Connection c) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(
        "SELECT epoch FROM controller_lease WHERE name = ? FOR SHARE")) {
      ps.setString(1, ROW);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? rs.getLong(1) : 0;
      }
    }
  }

  private static int update(Connection c, String sql, Object... args) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < args.length; i++) {
        ps.setObject(i + 1, args[i]);
      }
      return ps.executeUpdate();
    }
  }
}
