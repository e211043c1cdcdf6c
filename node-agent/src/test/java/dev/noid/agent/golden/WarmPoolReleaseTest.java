package dev.noid.agent.golden;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.image.Image;
import dev.noid.api.agent.v1.HypervisorKind;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A create that finds no room lets the warm pool go ({@link WarmPool#releaseAll}); the pool's
 * bookkeeping around makes still under way, with warm VMs whose making the test holds.
 */
class WarmPoolReleaseTest {
  private static final GoldenKey KEY = new GoldenKey("dev", 1, 128,
      HypervisorKind.HYPERVISOR_KIND_QEMU);

  @TempDir
  Path dir;
  private Image image;
  private FakeWarmMaker maker;
  private WarmPool pool;

  @BeforeEach
  void setUp() throws IOException {
    image = TestImages.devWithDisk(dir);
    maker = new FakeWarmMaker(dir);
  }

  @AfterEach
  void tearDown() {
    maker.gate.countDown();
    if (pool != null) {
      pool.close();
    }
  }

  @Test
  void aMakeThatEndsAfterTheReleaseGaveUpWaitingIsDiscardedNotPooled() {
    pool = new WarmPool(1, maker, Duration.ofMillis(50));
    pool.refill(KEY, image);
    await().atMost(Duration.ofSeconds(10)).until(() -> maker.started.get() == 1);

    assertThat(pool.releaseAll()).as("a make was under way").isTrue();
    maker.gate.countDown();

    await().atMost(Duration.ofSeconds(10)).until(() -> maker.discarded.size() == 1);
    WarmPool.Warm late = maker.discarded.get(0);
    assertThat(late.layout().dir().resolve(WarmPool.READY))
        .as("never published as ready to take").doesNotExist();
    assertThat(maker.started).as("no make starts until a create asks again").hasValue(1);
  }

  @Test
  void aReleaseThatWaitedForAMakeReturnsOnlyOnceThatVmIsGone() throws Exception {
    pool = new WarmPool(1, maker, Duration.ofSeconds(60));
    pool.refill(KEY, image);
    await().atMost(Duration.ofSeconds(10)).until(() -> maker.started.get() == 1);

    AtomicBoolean released = new AtomicBoolean();
    AtomicInteger discardedWhenReturned = new AtomicInteger(-1);
    Thread create = Thread.ofPlatform().start(() -> {
      released.set(pool.releaseAll());
      discardedWhenReturned.set(maker.discarded.size());
    });
    await().atMost(Duration.ofSeconds(10))
        .until(() -> create.getState() == Thread.State.TIMED_WAITING);
    maker.gate.countDown();
    create.join(Duration.ofSeconds(30));

    assertThat(create.isAlive()).isFalse();
    assertThat(released).isTrue();
    assertThat(discardedWhenReturned).as("the warm VM's memory is free when the create retries")
        .hasValue(1);
  }

  /** Warm VMs as directories; each make waits for {@link #gate}. */
  private static final class FakeWarmMaker implements WarmMaker {
    final CountDownLatch gate = new CountDownLatch(1);
    final AtomicInteger started = new AtomicInteger();
    final List<WarmPool.Warm> discarded = new CopyOnWriteArrayList<>();
    private final Path dir;

    FakeWarmMaker(Path dir) {
      this.dir = dir;
    }

    @Override
    public WarmPool.Warm make(GoldenKey key, Image image) throws IOException {
      int n = started.incrementAndGet();
      try {
        if (!gate.await(60, TimeUnit.SECONDS)) {
          throw new IOException("the test never let the make end");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted", e);
      }
      Path vm = Files.createDirectories(dir.resolve("vms/.warm-" + n));
      return new WarmPool.Warm(key, "build-1", new VmLayout(vm), -1, null, null, null);
    }

    @Override
    public void discard(WarmPool.Warm w) {
      discarded.add(w);
    }
  }
}
