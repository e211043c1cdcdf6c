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
 * config.json: where the controller is, the token, the CA that signed it, and the current VM.
 * Written with mode 0600 (it holds a token). Its directory is NOID_CONFIG_DIR, else
 * $XDG_CONFIG_HOME/noid, else $HOME/.noid ($HOME from the environment: scripts that give each
 * user its own HOME must get their own config, and Java's user.home comes from the password
 * file). NOID_URL, NOID_TOKEN and NOID_CA_FILE override the file. The url may be a comma list
 * of every controller of a cluster: see {@link ControllerUrls}.
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
    return dir(Session.current());
  }

  static Path dir(Session s) {
    if (s.env("NOID_CONFIG_DIR") != null) {
      return s.resolve(s.env("NOID_CONFIG_DIR"));
    }
    if (s.env("XDG_CONFIG_HOME") != null) {
      return s.resolve(s.env("XDG_CONFIG_HOME")).resolve("noid");
    }
    String home = s.env("HOME") != null ? s.env("HOME") : System.getProperty("user.home");
    return Path.of(home, ".noid");
  }

  static Path file() {
    return dir().resolve("config.json");
  }

  static CliConfig load() {
    return load(Session.current());
  }

  /** The file as saved, with the environment's overrides applied: what commands connect with. */
  static CliConfig load(Session s) {
    CliConfig c = loadFile(s);
    if (s.env("NOID_URL") != null) {
      c.url = s.env("NOID_URL");
    }
    if (s.env("NOID_TOKEN") != null) {
      c.token = s.env("NOID_TOKEN");
    }
    if (s.env("NOID_CA_FILE") != null) {
      c.caFile = s.resolve(s.env("NOID_CA_FILE")).toString();
    }
    return c;
  }

  /** The file alone: what to change and {@link #save}, so overrides never end up in it. */
  static CliConfig loadFile() {
    return loadFile(Session.current());
  }

  static CliConfig loadFile(Session s) {
    CliConfig c = new CliConfig();
    Path f = dir(s).resolve("config.json");
    if (Files.isRegularFile(f)) {
      try {
        c = JSON.readValue(f.toFile(), CliConfig.class);
      } catch (IOException e) {
        throw new CliException(CliException.USAGE, "cannot read " + f + ": " + e.getMessage()
            + " (fix it or run 'noid auth setup' again)");
      }
    }
    return c;
  }

  void save() {
    Path f = file();
    try {
      Files.createDirectories(f.getParent(), PosixFilePermissions.asFileAttribute(
          PosixFilePermissions.fromString("rwx------")));
      // A name of its own: the daemon runs commands side by side, and two saving at once
      // through one fixed name failed one of them (FileAlreadyExists) or mixed their writes.
      Path tmp = Files.createTempFile(f.getParent(), "config.json.", ".tmp",
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      try {
        JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.toFile(), this);
        Files.move(tmp, f, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } finally {
        Files.deleteIfExists(tmp);
      }
    } catch (IOException e) {
      throw new CliException(CliException.FAILURE, "cannot write " + f + ": " + e.getMessage());
    }
  }
}
