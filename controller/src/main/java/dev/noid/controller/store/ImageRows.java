package dev.noid.controller.store;

import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.List;

/** The {@code images} table. */
final class ImageRows {
  private ImageRows() {}

  static void put(JdbcStore store, ImageRow r) {
    store.tx("put image", c -> {
      try (PreparedStatement del = c.prepareStatement("DELETE FROM images WHERE name = ?");
          PreparedStatement ins = c.prepareStatement("INSERT INTO images (name, digest,"
              + " size_bytes, origin, architecture, created_ms, kernel, kernel_sha256,"
              + " modules_sha256)"
              + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
        del.setString(1, r.name());
        del.executeUpdate();
        ins.setString(1, r.name());
        ins.setString(2, r.digest());
        ins.setLong(3, r.sizeBytes());
        ins.setString(4, r.origin());
        ins.setString(5, r.architecture());
        ins.setLong(6, r.createdMs());
        ins.setString(7, r.kernel());
        ins.setString(8, r.kernelSha256());
        ins.setString(9, r.modulesSha256());
        ins.executeUpdate();
      }
      return null;
    });
  }

  static List<ImageRow> all(JdbcStore store) {
    return store.read("list images", c -> {
      List<ImageRow> out = new ArrayList<>();
      try (PreparedStatement ps = c.prepareStatement("SELECT name, digest, size_bytes, origin,"
              + " architecture, created_ms, kernel, kernel_sha256, modules_sha256 FROM images"
              + " ORDER BY name");
          ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(new ImageRow(rs.getString(1), rs.getString(2), rs.getLong(3), rs.getString(4),
              rs.getString(5), rs.getLong(6), rs.getString(7), rs.getString(8),
              rs.getString(9)));
        }
      }
      return out;
    });
  }

  static boolean delete(JdbcStore store, String name) {
    return store.tx("delete image", c -> {
      try (PreparedStatement ps = c.prepareStatement("DELETE FROM images WHERE name = ?")) {
        ps.setString(1, name);
        return ps.executeUpdate() == 1;
      }
    });
  }
}
