package dev.noid.agent.golden;

import dev.noid.agent.vm.AtomicFiles;
import dev.noid.agent.vm.Files2;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's golden snapshots on disk, one directory per key under {@code golden/}:
 * {@code state/} (the VMM's saved state), {@code disk.img} and {@code manifest.json}. A build
 * happens in a {@code .build-*} directory that replaces the key's only when complete.
 * Not thread-safe per key: {@link GoldenSnapshots} serialises replacing and reading.
 */
public final class GoldenStore {
  private static final Logger log = LoggerFactory.getLogger(GoldenStore.class);
  static final String STATE_DIR = "state";
  static final String DISK = "disk.img";
  private static final String BUILD_PREFIX = ".build-";
  private static final String OLD_PREFIX = ".old-";

  /** The answer of {@link #find}: a usable snapshot, or why there is none. */
  public sealed interface Lookup {}

  public record Found(Golden golden) implements Lookup {}

  public record Missing() implements Lookup {}

  /** Made from another image or VMM version: correct once, now to be rebuilt. */
  public record Stale(String reason) implements Lookup {}

  /** Unreadable, incomplete or not matching its checksums: never to be restored from. */
  public record Broken(String reason) implements Lookup {}

  private final Path root;
  private final FileDigests digests;

  public GoldenStore(Path root, FileDigests digests) {
    this.root = root;
    this.digests = digests;
  }

  public Path root() {
    return root;
  }

  Path slot(GoldenKey key) {
    return root.resolve(key.dirName());
  }

  public Lookup find(GoldenKey key, GoldenVersion version) {
    Path dir = slot(key);
    if (!Files.isDirectory(dir)) {
      return new Missing();
    }
    GoldenManifest m;
    try {
      m = GoldenManifest.read(dir);
    } catch (NoSuchFileException e) {
      return new Broken("no " + GoldenManifest.FILE);
    } catch (IOException e) {
      return new Broken("unreadable " + GoldenManifest.FILE + ": " + e.getMessage());
    }
    if (!key.equals(m.key())) {
      return new Broken("its manifest is for " + m.key());
    }
    if (!version.imageDigest().equals(m.version().imageDigest())) {
      return new Stale("image '" + key.image() + "' changed since it was made");
    }
    if (!version.hypervisorVersion().equals(m.version().hypervisorVersion())) {
      return new Stale("made by " + m.version().hypervisorVersion() + ", the node now runs "
          + version.hypervisorVersion());
    }
    if (!m.sha256().containsKey(DISK) || m.sha256().keySet().stream()
        .noneMatch(f -> f.startsWith(STATE_DIR + "/"))) {
      return new Broken("its manifest lists no state or no disk");
    }
    for (Map.Entry<String, String> file : m.sha256().entrySet()) {
      String problem = check(dir.resolve(file.getKey()), file.getValue());
      if (problem != null) {
        return new Broken(file.getKey() + " " + problem);
      }
    }
    return new Found(new Golden(key, m.buildId(), dir.resolve(STATE_DIR), dir.resolve(DISK)));
  }

  private String check(Path file, String expected) {
    try {
      String actual = digests.sha256(file);
      return actual.equals(expected) ? null : "has SHA-256 " + actual + ", manifest says " + expected;
    } catch (NoSuchFileException e) {
      return "is missing";
    } catch (IOException e) {
      return "is unreadable: " + e.getMessage();
    }
  }

  /**
   * A fresh directory to build a snapshot in. Its name is short because the build VM's sockets
   * live in it, and a unix socket path has at most 107 bytes.
   */
  Path newBuildDir() throws IOException {
    Files.createDirectories(root);
    return Files.createDirectory(root.resolve(BUILD_PREFIX
        + UUID.randomUUID().toString().substring(0, 8)));
  }

  /**
   * Checksums the state and disk of a finished build, writes its manifest and puts it in
   * place of the key's current snapshot.
   */
  GoldenManifest install(Path buildDir, GoldenKey key, GoldenVersion version, String buildId,
      String createdAt) throws IOException {
    Map<String, String> sums = new java.util.TreeMap<>();
    try (Stream<Path> files = Files.walk(buildDir.resolve(STATE_DIR))) {
      for (Path f : files.filter(Files::isRegularFile).toList()) {
        sums.put(buildDir.relativize(f).toString(), FileDigests.hash(f));
      }
    }
    sums.put(DISK, FileDigests.hash(buildDir.resolve(DISK)));
    GoldenManifest m = new GoldenManifest(buildId, createdAt, key, version, sums);
    m.write(buildDir);
    // Durable before the name appears, as checkpoints are (issue 19 M6): a snapshot torn by a
    // power cut would only fail its checksum, but costs every create a cold boot until rebuilt.
    AtomicFiles.syncTree(buildDir);
    remove(key);
    Files.move(buildDir, slot(key), StandardCopyOption.ATOMIC_MOVE);
    AtomicFiles.syncDirectory(root);
    return m;
  }

  /** Removes the key's snapshot, whatever its state. */
  void remove(GoldenKey key) {
    Path dir = slot(key);
    if (!Files.exists(dir)) {
      return;
    }
    // Renamed first so a crash half way through deleting leaves no half snapshot in place.
    Path doomed = root.resolve(OLD_PREFIX + UUID.randomUUID());
    try {
      Files.move(dir, doomed, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      doomed = dir;
    }
    digests.forget(dir);
    Files2.deleteTree(doomed);
  }

  // A build's throwaway VMM runs in its own session and outlives an agent that crashed.
  private static void stopOrphanVmm(Path buildDir) {
    try {
      long pid = Long.parseLong(Files.readString(buildDir.resolve("vmm.pid")).strip());
      ProcessHandle.of(pid)
          .filter(p -> p.info().commandLine().orElse("").contains(buildDir.toString()))
          .ifPresent(p -> {
            p.destroyForcibly();
            p.onExit().join();
          });
    } catch (IOException | NumberFormatException e) {
      // no pid file: no VMM was started there
    }
  }

  /** Builds and removals a crash left unfinished, at agent start. */
  public void cleanUpPartial() {
    if (!Files.isDirectory(root)) {
      return;
    }
    try (Stream<Path> dirs = Files.list(root)) {
      for (Path d : dirs.toList()) {
        String name = d.getFileName().toString();
        if (name.startsWith(BUILD_PREFIX) || name.startsWith(OLD_PREFIX)) {
          log.info("removing unfinished golden snapshot directory {}", d);
          stopOrphanVmm(d);
          try {
            Files2.deleteTree(d);
          } catch (dev.noid.agent.vm.AgentException e) {
            // Out of use whatever is left of it: not a reason for the agent not to start.
            log.warn("cannot remove {} (tried again at the next start): {}", d, e.getMessage());
          }
        }
      }
    } catch (IOException e) {
      log.warn("cannot list {}: {}", root, e.toString());
    }
  }
}
