package dev.noid.agent.golden;

import dev.noid.agent.image.Image;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Stands in for a throwaway VM where only the bookkeeping around builds is under test: writes
 * a state file and a disk, counts builds, and can be held at a gate or made to fail.
 */
final class FakeGoldenBuilder implements GoldenBuilder {
  final AtomicInteger builds = new AtomicInteger();
  final CountDownLatch started = new CountDownLatch(1);
  volatile CountDownLatch gate = new CountDownLatch(0);
  volatile boolean fail;
  /** Thrown, once the build has written into its directory, when set. */
  volatile Error error;

  @Override
  public void build(GoldenKey key, Image image, Path buildDir) {
    builds.incrementAndGet();
    started.countDown();
    try {
      if (!gate.await(30, TimeUnit.SECONDS)) {
        throw new AssertionError("gate never opened");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AgentException(Code.INTERNAL, "interrupted");
    }
    if (fail) {
      throw new AgentException(Code.HYPERVISOR_FAILED, "the guest did not boot");
    }
    if (error != null) {
      try {
        Files.writeString(buildDir.resolve("disk.img"), "half a disk");
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      throw error;
    }
    try {
      Files.createDirectories(buildDir.resolve("state"));
      Files.writeString(buildDir.resolve("state/vmstate"), "memory of " + key.dirName());
      Files.writeString(buildDir.resolve("disk.img"), "disk of " + key.dirName());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
