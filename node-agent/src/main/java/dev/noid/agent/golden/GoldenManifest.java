package dev.noid.agent.golden;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;

/**
 * {@code manifest.json} of a golden snapshot: what it fits ({@code key}), what it was made from
 * ({@code version}), an id per build (so a failure reported against an older build never
 * removes a newer one) and the SHA-256 of each file, checked before a VM is restored from it.
 */
public record GoldenManifest(String buildId, String createdAt, GoldenKey key,
    GoldenVersion version, Map<String, String> sha256) {
  static final String FILE = "manifest.json";
  private static final ObjectMapper JSON = new ObjectMapper()
      .enable(SerializationFeature.INDENT_OUTPUT)
      .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  public GoldenManifest {
    sha256 = Map.copyOf(sha256);
  }

  /** A manifest missing its build id, key or version is refused here, as unreadable. */
  static GoldenManifest read(Path dir) throws IOException {
    GoldenManifest m = JSON.readValue(dir.resolve(FILE).toFile(), GoldenManifest.class);
    if (m == null || m.buildId == null || m.key == null || m.version == null) {
      throw new IOException("incomplete " + FILE + ": it needs buildId, key and version");
    }
    return m;
  }

  /** Written last and atomically: a snapshot without a manifest is unfinished. */
  void write(Path dir) throws IOException {
    Path tmp = dir.resolve(FILE + ".tmp");
    JSON.writeValue(tmp.toFile(), this);
    Files.move(tmp, dir.resolve(FILE), StandardCopyOption.ATOMIC_MOVE,
        StandardCopyOption.REPLACE_EXISTING);
  }
}
