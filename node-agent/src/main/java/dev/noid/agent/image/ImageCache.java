package dev.noid.agent.image;

import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.agent.vm.AtomicFiles;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fleet images this node holds, by digest: {@code DIR/HEX.ext4}, each next to a {@code HEX.used}
 * marker whose time is the last use (the image's own time must not change: golden snapshots
 * key on its content, hashed once per file version). A missing image is pulled once however
 * many creates want it at the same moment, checked against its digest, and only then moved in.
 * Least recently used images that nothing on the node needs go when the cache is over budget.
 * An image's own kernel, if it has one, is kept beside it ({@link ImageKernels}).
 */
public final class ImageCache {
  private static final Logger log = LoggerFactory.getLogger(ImageCache.class);
  /** How long after its last use an image is safe from collection, whatever uses it. */
  static final java.time.Duration RECENT = java.time.Duration.ofMinutes(10);
  private static final Pattern DIGEST = Pattern.compile("sha256:[0-9a-f]{64}");

  private final Path dir;
  private final ImageSource source;
  private final long budgetBytes;
  private final Clock clock;
  private final ImageKernels kernels;
  private final ConcurrentHashMap<String, InFlight> pulls = new ConcurrentHashMap<>();
  private final AtomicLong joined = new AtomicLong();

  public ImageCache(Path dir, ImageSource source, long budgetBytes, Clock clock) {
    this.dir = dir;
    this.source = source;
    this.budgetBytes = budgetBytes;
    this.clock = clock;
    this.kernels = new ImageKernels(dir, source);
    try {
      Files.createDirectories(dir);
      try (Stream<Path> parts = Files.list(dir)) {
        for (Path p : parts.filter(f -> f.getFileName().toString().endsWith(".part")).toList()) {
          Files.deleteIfExists(p); // a pull cut short by a crash
        }
      }
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "cannot prepare the image cache " + dir + ": "
          + e.getMessage(), e);
    }
  }

  public static boolean isDigest(String s) {
    return DIGEST.matcher(s).matches();
  }

  public Path path(String digest) {
    if (!isDigest(digest)) {
      throw new AgentException(Code.INVALID_ARGUMENT, "image digest must be sha256:<64 hex>; got '"
          + digest + "'");
    }
    return dir.resolve(hex(digest) + ".ext4");
  }

  /** Whether the node holds the image whole: its ext4 file, and its kernel's if it has one. */
  public boolean has(String digest) {
    return isDigest(digest) && Files.isRegularFile(path(digest)) && kernels.known(hex(digest));
  }

  /**
   * The image's own kernel and the boot initramfs with its modules appended; empty for an image
   * that boots the node's kernel. Only for an image {@link #ensure} made whole.
   */
  public Optional<OwnKernel> ownKernel(String digest, Path bootInitramfs) {
    path(digest); // refuses what is not a digest
    String hex = hex(digest);
    return kernels.own(hex).map(own -> new OwnKernel(own.vmlinuz(),
        kernels.initramfs(hex, own, bootInitramfs)));
  }

  /** What a VM of an image with its own kernel boots instead of the node's. */
  public record OwnKernel(Path kernel, Path initramfs) {}

  /** The image's file, pulled first if this node lacks it; marks it used. */
  public Path ensure(String digest, ImageSource.Progress progress) {
    Path file = path(digest);
    // Found and marked used under collect()'s lock: a collection between the two would delete
    // the file this returns (and its kernel, so the VM would boot the node's).
    synchronized (this) {
      if (has(digest)) {
        touch(digest);
        return file;
      }
    }
    InFlight mine = new InFlight(digest, progress);
    InFlight pull = pulls.putIfAbsent(digest, mine);
    if (pull == null) {
      try {
        Path pulled = pullNow(digest, file, mine);
        touch(digest); // before it stops counting as in flight: collect() must see it used
        mine.file.complete(pulled);
      } catch (RuntimeException e) {
        mine.file.completeExceptionally(e);
      } finally {
        pulls.remove(digest, mine);
      }
      pull = mine;
    } else {
      joined.incrementAndGet();
    }
    try {
      pull.file.join();
    } catch (CompletionException e) {
      throw e.getCause() instanceof AgentException a ? a
          : new AgentException(Code.INTERNAL, "pull of image " + digest + " failed: "
              + e.getCause(), e.getCause());
    }
    touch(digest);
    return file;
  }

  /** How far each running pull got, for the node report. */
  public List<Pull> pulls() {
    return pulls.values().stream().map(p -> new Pull(p.digest, p.done, p.total))
        .sorted(Comparator.comparing(Pull::digest)).toList();
  }

  /** How many pulls are running. */
  public int pullsInFlight() {
    return pulls.size();
  }

  /** How many callers waited on a pull another caller had started, since the agent started. */
  public long joinedPulls() {
    return joined.get();
  }

  /**
   * The ext4 file (unless an earlier pull, or one from before image kernels, left it), then the
   * kernel's files: the image is whole, to {@link #has}, once both are in.
   */
  private Path pullNow(String digest, Path file, ImageSource.Progress progress) {
    if (!Files.isRegularFile(file)) {
      pullExt4(digest, file, progress);
    }
    kernels.pull(digest, hex(digest));
    return file;
  }

  private void pullExt4(String digest, Path file, ImageSource.Progress progress) {
    Path part = dir.resolve(hex(digest) + ".part");
    long started = System.nanoTime();
    MessageDigest sha = sha256();
    // A second try when the first was cut part way or did not match the digest: the first may
    // have come from another node (issue 24); the second comes from the controller only.
    for (int attempt = 1; ; attempt++) {
      sha.reset();
      try (OutputStream out = new DigestOutputStream(Files.newOutputStream(part), sha)) {
        if (attempt == 1) {
          source.fetch(digest, out, progress);
        } else {
          source.fetchFromOrigin(digest, out, progress);
        }
      } catch (IOException e) {
        deleteQuietly(part);
        Code code = e.getMessage() != null && e.getMessage().contains("No space left")
            ? Code.DISK_FULL : Code.INTERNAL;
        throw new AgentException(code, "cannot write image " + digest + ": " + e.getMessage(), e);
      } catch (AgentException e) {
        deleteQuietly(part);
        if (e.code() != Code.INTERRUPTED || attempt > 1) {
          throw e;
        }
        log.warn("{}; pulling it again", e.getMessage());
        continue;
      } catch (RuntimeException e) {
        deleteQuietly(part);
        throw e;
      }
      String got = "sha256:" + HexFormat.of().formatHex(sha.digest());
      if (got.equals(digest)) {
        break;
      }
      deleteQuietly(part);
      if (attempt > 1) {
        throw new AgentException(Code.CORRUPT, "pulled image " + digest + " has digest " + got
            + ": refused");
      }
      log.warn("pulled image {} has digest {}: refused, pulling it again", digest, got);
    }
    try {
      AtomicFiles.publish(part, file);
    } catch (IOException e) {
      deleteQuietly(part);
      throw new AgentException(Code.INTERNAL, "cannot store image " + digest + ": "
          + e.getMessage(), e);
    }
    log.info("pulled image {} ({} bytes) in {} ms", digest, size(file),
        (System.nanoTime() - started) / 1_000_000);
  }

  /** Digests of the images this node holds. */
  public List<String> digests() {
    List<String> out = new ArrayList<>();
    for (Path p : files()) {
      String name = p.getFileName().toString();
      out.add("sha256:" + name.substring(0, name.length() - ".ext4".length()));
    }
    out.sort(null);
    return out;
  }

  /**
   * Removes least recently used images, none of {@code inUse}, until the cache fits its budget.
   * Returns the digests removed.
   */
  public synchronized List<String> collect(Set<String> inUse) {
    List<Path> files = files();
    long total = files.stream().mapToLong(this::imageBytes).sum();
    List<String> removed = new ArrayList<>();
    files.sort(Comparator.comparing(this::lastUsed));
    for (Path f : files) {
      if (total <= budgetBytes) {
        break;
      }
      String digest = "sha256:" + f.getFileName().toString().replace(".ext4", "");
      // Recently used: a create that has just been handed this image has not registered its
      // VM yet, so no list of VMs shows it in use.
      if (inUse.contains(digest) || pulls.containsKey(digest)
          || lastUsed(f).toInstant().isAfter(clock.instant().minus(RECENT))) {
        continue;
      }
      long bytes = imageBytes(f);
      deleteQuietly(f);
      deleteQuietly(usedMarker(digest));
      kernels.delete(hex(digest));
      total -= bytes;
      removed.add(digest);
      log.info("removed image {} ({} bytes, least recently used) to keep the cache within {} bytes",
          digest, bytes, budgetBytes);
    }
    return removed;
  }

  /** The ext4 file and the kernel's files beside it. */
  private long imageBytes(Path ext4) {
    String hex = ext4.getFileName().toString().replace(".ext4", "");
    return size(ext4) + kernels.files(hex).stream().mapToLong(ImageCache::size).sum();
  }

  private List<Path> files() {
    try (Stream<Path> all = Files.list(dir)) {
      return new ArrayList<>(all.filter(p -> {
        String n = p.getFileName().toString();
        return n.endsWith(".ext4") && isDigest("sha256:" + n.substring(0, n.length() - 5));
      }).toList());
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "cannot list the image cache: " + e.getMessage(), e);
    }
  }

  private void touch(String digest) {
    Path marker = usedMarker(digest);
    try {
      if (!Files.exists(marker)) {
        Files.createFile(marker);
      }
      Files.setLastModifiedTime(marker, FileTime.from(clock.instant()));
    } catch (IOException e) {
      log.warn("cannot mark image {} used: {}", digest, e.getMessage());
    }
  }

  private FileTime lastUsed(Path image) {
    String digest = "sha256:" + image.getFileName().toString().replace(".ext4", "");
    try {
      return Files.getLastModifiedTime(usedMarker(digest));
    } catch (IOException e) {
      return FileTime.fromMillis(0);
    }
  }

  private Path usedMarker(String digest) {
    return dir.resolve(hex(digest) + ".used");
  }

  private static String hex(String digest) {
    return digest.substring("sha256:".length());
  }

  private static long size(Path p) {
    try {
      return Files.size(p);
    } catch (IOException e) {
      return 0;
    }
  }

  static void deleteQuietly(Path p) {
    try {
      Files.deleteIfExists(p);
    } catch (IOException e) {
      log.warn("cannot delete {}: {}", p, e.getMessage());
    }
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }

  /** A running pull: {@code totalBytes} is 0 until the source has said how big the image is. */
  public record Pull(String digest, long doneBytes, long totalBytes) {}

  /**
   * One pull, shared by every create that waits on it. It hears the transfer's progress to
   * report it, and passes it on to the create that started the pull.
   */
  private static final class InFlight implements ImageSource.Progress {
    final CompletableFuture<Path> file = new CompletableFuture<>();
    final String digest;
    final ImageSource.Progress starter;
    volatile long done;
    volatile long total;

    InFlight(String digest, ImageSource.Progress starter) {
      this.digest = digest;
      this.starter = starter;
    }

    @Override
    public void total(long bytes) {
      total = bytes;
      starter.total(bytes);
    }

    @Override
    public void done(long bytes) {
      done = bytes;
      starter.done(bytes);
    }
  }
}
