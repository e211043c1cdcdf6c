package dev.noid.agent.image;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The controller's PullImage as the cache sees it: bytes by digest, with a gate that holds a
 * transfer open so tests can pile creates onto it, and another that holds it half way so they
 * can see its progress. (The real controller over mutual TLS is
 * exercised by the cluster ITs; here the cache's own logic is under test.)
 */
final class FakeImageSource implements ImageSource {
  final Map<String, byte[]> served = new ConcurrentHashMap<>();
  /** An image's kernel and modules files by "DIGEST PART", with the sha256 announced for each. */
  final Map<String, byte[]> parts = new ConcurrentHashMap<>();
  final Map<String, String> announced = new ConcurrentHashMap<>();
  final AtomicInteger fetches = new AtomicInteger();
  final CountDownLatch started = new CountDownLatch(1);
  volatile CountDownLatch gate = new CountDownLatch(0);
  final CountDownLatch halfway = new CountDownLatch(1);
  volatile CountDownLatch rest = new CountDownLatch(0);

  @Override
  public java.util.Optional<String> fetchPart(String digest, Part part, OutputStream out) {
    byte[] bytes = parts.get(digest + " " + part);
    if (bytes == null) {
      return java.util.Optional.empty();
    }
    try {
      out.write(bytes);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return java.util.Optional.of(announced.get(digest + " " + part));
  }

  @Override
  public void fetch(String digest, OutputStream out, Progress progress) {
    fetches.incrementAndGet();
    started.countDown();
    try {
      if (!gate.await(30, TimeUnit.SECONDS)) {
        throw new IllegalStateException("the test never opened the gate");
      }
      byte[] bytes = served.get(digest);
      if (bytes == null) {
        throw new dev.noid.agent.vm.AgentException(dev.noid.agent.vm.AgentException.Code.NOT_FOUND,
            "no image " + digest);
      }
      progress.total(bytes.length);
      int half = bytes.length / 2;
      out.write(bytes, 0, half);
      progress.done(half);
      halfway.countDown();
      if (!rest.await(30, TimeUnit.SECONDS)) {
        throw new IllegalStateException("the test never let the rest through");
      }
      out.write(bytes, half, bytes.length - half);
      progress.done(bytes.length);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
