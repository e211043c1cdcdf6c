package dev.noid.cli.launch;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Where the daemon for this user, this Java and this jar listens: a socket in a directory only
 * the user can enter ($XDG_RUNTIME_DIR/noid, else $HOME/.cache/noid/daemon). The name carries a
 * hash of the Java home and the jars' paths, sizes and modification times, so a new build or
 * another Java gets its own daemon and the old one idles out.
 */
public record DaemonAddress(Path dir, String key) {
  static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rwx------");

  public static DaemonAddress of(Map<String, String> env) {
    String runtime = env.get("XDG_RUNTIME_DIR");
    Path dir = runtime != null && !runtime.isEmpty() ? Path.of(runtime, "noid")
        : Path.of(env.getOrDefault("HOME", System.getProperty("user.home")), ".cache", "noid", "daemon");
    return new DaemonAddress(dir, key(classPath(), System.getProperty("java.home")));
  }

  /**
   * The jars this code runs from, as absolute paths joined by ':' (the launcher gives the
   * small launcher jar, then noid.jar); the daemon runs with the same.
   */
  public static String classPath() {
    StringBuilder sb = new StringBuilder();
    for (String p : System.getProperty("java.class.path").split(":")) {
      sb.append(sb.isEmpty() ? "" : ":").append(Path.of(p).toAbsolutePath());
    }
    return sb.toString();
  }

  static String key(String classPath, String javaHome) {
    long h = 0xcbf29ce484222325L;
    StringBuilder sb = new StringBuilder(javaHome);
    for (String p : classPath.split(":")) {
      Path jar = Path.of(p);
      sb.append('|').append(jar);
      try {
        sb.append('|').append(Files.size(jar)).append('|').append(Files.getLastModifiedTime(jar).toMillis());
      } catch (IOException e) {
        // a missing jar still gives a stable name; the JVM reports it
      }
    }
    String s = sb.toString();
    for (int i = 0; i < s.length(); i++) {
      h = (h ^ s.charAt(i)) * 0x100000001b3L;  // FNV-1a: a name, not a security boundary
    }
    return Long.toHexString(h);
  }

  public Path socket() {
    return dir.resolve("d-" + key + ".sock");
  }

  public Path lock() {
    return dir.resolve("d-" + key + ".lock");
  }

  public Path log() {
    return dir.resolve("d-" + key + ".log");
  }

  /**
   * Why the directory must not carry our commands, or empty when it is ours and closed to
   * others (or not there yet). Whoever listens in it gets the command line and NOID_TOKEN and
   * writes what the user sees: a directory another user made or can enter may hold their
   * socket. Checked before every connect, as the C client does.
   */
  public Optional<String> distrust() throws IOException {
    PosixFileAttributes a;
    try {
      a = Files.readAttributes(dir, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
    String me = System.getProperty("user.name"); // looked up from this process's uid
    if (a.isSymbolicLink()) {
      return Optional.of("a symbolic link");
    } else if (!a.isDirectory()) {
      return Optional.of("not a directory");
    } else if (!a.owner().getName().equals(me)) {
      return Optional.of("owned by " + a.owner().getName() + ", not " + me);
    } else if (a.permissions().stream().anyMatch(p -> !OWNER_ONLY.contains(p))) {
      return Optional.of("mode " + PosixFilePermissions.toString(a.permissions())
          + ": other users can enter it");
    }
    return Optional.empty();
  }

  /**
   * Makes the directory (mode 0700), or checks that the existing one is ours and closed to
   * others. One that is not is refused, not repaired: a socket another user put in it while it
   * was open would stay.
   */
  public void secureDir() throws IOException {
    Files.createDirectories(dir.getParent());
    try {
      Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
    } catch (java.nio.file.FileAlreadyExistsException e) {
      // checked below
    }
    Optional<String> why = distrust();
    if (why.isPresent()) {
      throw new IOException(dir + " is " + why.get() + "; remove it and noid makes a private one");
    }
  }
}
