package dev.noid.agent.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.noid.agent.vm.AgentException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageCacheTest {
  @TempDir Path dir;
  private final FakeImageSource source = new FakeImageSource();

  private static String digest(byte[] b) throws Exception {
    return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
  }

  private String serve(String content) throws Exception {
    byte[] b = content.getBytes(StandardCharsets.UTF_8);
    String d = digest(b);
    source.served.put(d, b);
    return d;
  }

  private ImageCache cache(long budget, Clock clock) {
    return new ImageCache(dir.resolve("images"), source, budget, clock);
  }

  @Test
  void concurrentCreatesOfAMissingImageShareOnePull() throws Exception {
    String d = serve("root filesystem");
    ImageCache cache = cache(1 << 20, Clock.systemUTC());
    source.gate = new CountDownLatch(1);
    var threads = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor();

    CompletableFuture<Path> first = CompletableFuture.supplyAsync(() -> cache.ensure(d, ImageSource.Progress.NONE), threads);
    assertThat(source.started.await(10, TimeUnit.SECONDS)).isTrue();
    List<CompletableFuture<Path>> more = List.of(
        CompletableFuture.supplyAsync(() -> cache.ensure(d, ImageSource.Progress.NONE), threads),
        CompletableFuture.supplyAsync(() -> cache.ensure(d, ImageSource.Progress.NONE), threads));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (cache.joinedPulls() < 2 && System.nanoTime() < deadline) {
      Thread.onSpinWait();
    }
    assertThat(cache.joinedPulls()).as("both later creates wait on the first one's pull").isEqualTo(2);
    assertThat(cache.pullsInFlight()).isEqualTo(1);
    source.gate.countDown();

    Path file = first.get(10, TimeUnit.SECONDS);
    for (CompletableFuture<Path> f : more) {
      assertThat(f.get(10, TimeUnit.SECONDS)).isEqualTo(file);
    }
    assertThat(source.fetches.get()).isEqualTo(1);
    assertThat(Files.readString(file)).isEqualTo("root filesystem");
    assertThat(cache.digests()).containsExactly(d);
    assertThat(cache.ensure(d, ImageSource.Progress.NONE)).isEqualTo(file);
    assertThat(source.fetches.get()).as("a cached image is not pulled again").isEqualTo(1);
  }

  @Test
  void aPullInFlightReportsHowFarItGotAndTheCreateThatStartedItHearsTheSame() throws Exception {
    String d = serve("0123456789");
    ImageCache cache = cache(1 << 20, Clock.systemUTC());
    source.rest = new CountDownLatch(1);
    List<Long> heard = new java.util.concurrent.CopyOnWriteArrayList<>();
    ImageSource.Progress starter = new ImageSource.Progress() {
      @Override
      public void total(long bytes) {
        heard.add(-bytes);
      }

      @Override
      public void done(long bytes) {
        heard.add(bytes);
      }
    };
    assertThat(cache.pulls()).isEmpty();

    CompletableFuture<Path> create = CompletableFuture.supplyAsync(() -> cache.ensure(d, starter));
    assertThat(source.halfway.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(cache.pulls()).containsExactly(new ImageCache.Pull(d, 5, 10));
    source.rest.countDown();

    create.get(10, TimeUnit.SECONDS);
    assertThat(cache.pulls()).as("a finished pull is no longer reported").isEmpty();
    assertThat(heard).containsExactly(-10L, 5L, 10L);
  }

  @Test
  void bytesThatDoNotMatchTheDigestAreRefusedAndNothingIsKept() throws Exception {
    String claimed = serve("the real image");
    source.served.put(claimed, "tampered in transit".getBytes(StandardCharsets.UTF_8));
    ImageCache cache = cache(1 << 20, Clock.systemUTC());

    assertThatThrownBy(() -> cache.ensure(claimed, ImageSource.Progress.NONE))
        .isInstanceOf(AgentException.class).hasMessageContaining("has digest sha256:")
        .extracting(e -> ((AgentException) e).code()).isEqualTo(AgentException.Code.CORRUPT);
    assertThat(cache.has(claimed)).isFalse();
    try (var files = Files.list(dir.resolve("images"))) {
      assertThat(files.filter(p -> !p.toString().endsWith(".used")).toList()).isEmpty();
    }
  }

  @Test
  void overBudgetTheLeastRecentlyUsedUnusedImagesGo() throws Exception {
    String a = serve("a".repeat(100));
    String b = serve("b".repeat(100));
    String c = serve("c".repeat(100));
    MutableClock clock = new MutableClock();
    ImageCache cache = cache(250, clock);
    cache.ensure(a, ImageSource.Progress.NONE);
    clock.advance();
    cache.ensure(b, ImageSource.Progress.NONE);
    clock.advance();
    cache.ensure(c, ImageSource.Progress.NONE);
    clock.advance();
    cache.ensure(a, ImageSource.Progress.NONE); // a is now the most recently used
    assertThat(cache.collect(Set.of())).as("all used in the last minutes: none goes").isEmpty();
    clock.advance(ImageCache.RECENT);

    // b is the least recently used, but a VM runs on it: c goes instead.
    assertThat(cache.collect(Set.of(b))).containsExactly(c);
    assertThat(cache.digests()).containsExactlyInAnyOrder(a, b);
    assertThat(cache.collect(Set.of(b))).as("within budget now").isEmpty();
  }

  @Test
  void anImageJustHandedToACreateIsNotCollectedBeforeItsVmExists() throws Exception {
    // The attack on the budget: images in use fill it, a create pulls one more. Its VM is not
    // registered until the overlay is made, so "in use" cannot protect it yet.
    String inUse = serve("u".repeat(200));
    String fresh = serve("f".repeat(100));
    MutableClock clock = new MutableClock();
    ImageCache cache = cache(250, clock);
    cache.ensure(inUse, ImageSource.Progress.NONE);
    clock.advance(ImageCache.RECENT.multipliedBy(2));
    cache.ensure(fresh, ImageSource.Progress.NONE);

    assertThat(cache.collect(Set.of(inUse))).isEmpty();
    assertThat(cache.has(fresh)).isTrue();
  }

  private String serveWithKernel(String content, String kernel, String modules)
      throws Exception {
    String d = serve(content);
    for (var p : java.util.Map.of(ImageSource.Part.KERNEL, kernel, ImageSource.Part.MODULES,
        modules).entrySet()) {
      byte[] b = p.getValue().getBytes(StandardCharsets.UTF_8);
      source.parts.put(d + " " + p.getKey(), b);
      source.announced.put(d + " " + p.getKey(), digest(b));
    }
    return d;
  }

  @Test
  void anImageWithItsOwnKernelBootsItWithTheModulesAppendedToTheBootInitramfs()
      throws Exception {
    String d = serveWithKernel("root filesystem", "bzImage", "modules cpio");
    Path boot = Files.writeString(dir.resolve("boot-initramfs"), "boot cpio;");
    ImageCache cache = cache(1 << 20, Clock.systemUTC());

    cache.ensure(d, ImageSource.Progress.NONE);
    ImageCache.OwnKernel own = cache.ownKernel(d, boot).orElseThrow();

    assertThat(Files.readString(own.kernel())).isEqualTo("bzImage");
    assertThat(Files.readString(own.initramfs())).isEqualTo("boot cpio;modules cpio");
    assertThat(cache.has(d)).isTrue();
    // A rebuilt boot image is picked up: the combined file is made again.
    Files.writeString(boot, "new boot cpio;");
    assertThat(Files.readString(cache.ownKernel(d, boot).orElseThrow().initramfs()))
        .isEqualTo("new boot cpio;modules cpio");
  }

  @Test
  void anImageWithoutItsOwnKernelBootsTheNodesAndIsAskedOnce() throws Exception {
    String d = serve("plain root filesystem");
    ImageCache cache = cache(1 << 20, Clock.systemUTC());

    cache.ensure(d, ImageSource.Progress.NONE);

    assertThat(cache.ownKernel(d, dir.resolve("boot-initramfs"))).isEmpty();
    assertThat(cache.has(d)).isTrue();
  }

  @Test
  void aKernelPartThatDoesNotMatchItsSha256IsRefusedAndTheImageIsNotWhole() throws Exception {
    String d = serveWithKernel("root filesystem", "bzImage", "modules cpio");
    source.parts.put(d + " " + ImageSource.Part.KERNEL,
        "tampered".getBytes(StandardCharsets.UTF_8));
    ImageCache cache = cache(1 << 20, Clock.systemUTC());

    assertThatThrownBy(() -> cache.ensure(d, ImageSource.Progress.NONE))
        .isInstanceOf(AgentException.class).hasMessageContaining("KERNEL of image " + d)
        .extracting(e -> ((AgentException) e).code()).isEqualTo(AgentException.Code.CORRUPT);
    assertThat(cache.has(d)).isFalse();
    assertThat(dir.resolve("images/" + d.substring(7) + ".vmlinuz")).doesNotExist();

    // Once the controller serves the right bytes, only the kernel's files are pulled again.
    source.parts.put(d + " " + ImageSource.Part.KERNEL, "bzImage".getBytes(StandardCharsets.UTF_8));
    cache.ensure(d, ImageSource.Progress.NONE);
    assertThat(cache.has(d)).isTrue();
    assertThat(source.fetches.get()).isEqualTo(1);
  }

  @Test
  void anImagesKernelFilesCountAgainstTheBudgetAndGoWithIt() throws Exception {
    // 200 bytes of ext4 files fit in 250; with a's kernel, modules and initramfs they do not.
    String a = serveWithKernel("a".repeat(100), "k".repeat(100), "modules");
    String b = serve("b".repeat(100));
    MutableClock clock = new MutableClock();
    ImageCache cache = cache(250, clock);
    cache.ensure(a, ImageSource.Progress.NONE);
    cache.ownKernel(a, Files.writeString(dir.resolve("boot-initramfs"), "boot;"));
    clock.advance();
    cache.ensure(b, ImageSource.Progress.NONE);
    clock.advance(ImageCache.RECENT);

    assertThat(cache.collect(Set.of())).containsExactly(a);
    try (var files = Files.list(dir.resolve("images"))) {
      assertThat(files.map(p -> p.getFileName().toString()))
          .noneMatch(n -> n.startsWith(a.substring(7)));
    }
  }

  @Test
  void aDigestThatIsNotSha256IsRefusedBeforeAnythingIsFetched() {
    ImageCache cache = cache(1 << 20, Clock.systemUTC());
    assertThatThrownBy(() -> cache.ensure("sha256:../../etc/passwd", ImageSource.Progress.NONE))
        .isInstanceOf(AgentException.class).hasMessageContaining("sha256:<64 hex>");
    assertThat(source.fetches.get()).isZero();
  }

  @Test
  void aCollectionAsACreateIsHandedACachedImageDoesNotDeleteIt() throws Exception {
    String cached = serve("o".repeat(200));
    MutableClock clock = new MutableClock();
    ImageCache cache = cache(100, clock);
    cache.ensure(cached, ImageSource.Progress.NONE);
    clock.advance(ImageCache.RECENT.multipliedBy(2)); // unused, over budget

    // The create has found the image and is about to mark it used (which reads the clock): a
    // collection, say after another create's pull, runs right then.
    CompletableFuture<List<String>> collected = new CompletableFuture<>();
    clock.next(Thread.currentThread(), () -> {
      Thread collector = new Thread(() -> collected.complete(cache.collect(Set.of())));
      collector.start();
      // It ends, or it waits for the create to finish with the image.
      await().atMost(java.time.Duration.ofSeconds(30))
          .until(() -> collected.isDone() || collector.getState() == Thread.State.BLOCKED);
    });
    Path file = cache.ensure(cached, ImageSource.Progress.NONE);

    assertThat(collected.get(30, TimeUnit.SECONDS)).as("collected").doesNotContain(cached);
    assertThat(file).as("the file the create boots").exists();
    assertThat(cache.has(cached)).isTrue();
  }

  /** A clock the test moves, which can run a hook the next time a given thread reads it. */
  private static final class MutableClock extends Clock {
    private volatile Instant now = Instant.parse("2026-12-04T00:00:00Z");
    private volatile Thread on;
    private volatile Runnable hook;

    void next(Thread thread, Runnable r) {
      hook = r;
      on = thread;
    }

    void advance() {
      now = now.plusSeconds(60);
    }

    void advance(java.time.Duration d) {
      now = now.plus(d);
    }

    @Override
    public ZoneOffset getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      if (Thread.currentThread() == on) {
        on = null;
        hook.run();
      }
      return now;
    }
  }
}
