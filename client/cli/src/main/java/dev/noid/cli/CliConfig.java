package dev.noid.cli;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * ~/.noid/config.json: where the controller is, the token, the CA that signed it, and the
 * current VM. Written with mode 0600 (it holds a token). NOID_URL, NOID_TOKEN and NOID_CA_FILE
 * override it; NOID_CONFIG_DIR moves it.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
public final class CliConfig {
  private static final ObjectMapper JSON = new ObjectMapper();
  public String url;
  public String token;
  public String caFile;
  public String current;

  static Path dir() {
    String env = System.getenv("NOID_CONFIG_DIR");
    return env != null && !env.isEmpty() ? Path.of(env)
        : Path.of(System.getProperty("user.home"), ".noid");
  }

  static Path file() {
    return dir().resolve("config.json");
  }

  static CliConfig load() {
    CliConfig c = new CliConfig();
    Path f = file();
    if (Files.isRegularFile(f)) {
      try {
        c = JSON.readValue(f.toFile(), CliConfig.class);
      } catch (IOException e) {
        throw new CliException(CliException.USAGE, "cannot read " + f + ": " + e.getMessage()
            + " (fix it or run 'noid auth setup' again)");
      }
    }
    if (System.getenv("NOID_URL") != null) {
      c.url = System.getenv("NOID_URL");
    }
    if (System.getenv("NOID_TOKEN") != null) {
      c.token = System.getenv("NOID_TOKEN");
    }
    if (System.getenv("NOID_CA_FILE") != null) {
      c.caFile = System.getenv("NOID_CA_FILE");
    }
    return c;
  }

  void save() {
    Path f = file();
    try {
      Files.createDirectories(f.getParent(), PosixFilePermissions.asFileAttribute(
          PosixFilePermissions.fromString("rwx------")));
      Path tmp = f.resolveSibling("config.json.tmp");
      Files.deleteIfExists(tmp);
      Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.toFile(), this);
      Files.move(tmp, f, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new CliException(CliException.FAILURE, "cannot write " + f + ": " + e.getMessage());
    }
  }
}
