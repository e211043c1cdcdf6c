package dev.noid.controller.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Ports for the servers a test starts. Not the kernel's pick for port 0: that comes from the
 * ephemeral range, which every outgoing connection draws its source port from too, so one can
 * take the port between the pick and the server's bind (an agent then exits "port ... is already
 * in use"), and a port just closed may be picked twice. These come from below that range, each
 * handed out once per JVM, starting at a random place so that two JVMs rarely meet.
 */
public final class FreePorts {
  private static final int LOWEST = 10_000;
  private static final int[] RANGE = range();
  private static final AtomicInteger NEXT =
      new AtomicInteger(ThreadLocalRandom.current().nextInt(Math.max(1, RANGE[1] - RANGE[0])));

  private FreePorts() {}

  /** A port no server holds now and that this JVM has not handed out before. */
  public static int next() {
    if (RANGE[1] - RANGE[0] < 1_000) {
      return kernelsPick(); // an unusual ephemeral range: nothing to choose from below it
    }
    for (int tries = 0; tries < 1_000; tries++) {
      int port = RANGE[0] + Math.floorMod(NEXT.getAndIncrement(), RANGE[1] - RANGE[0]);
      if (bindable(port)) {
        return port;
      }
    }
    throw new IllegalStateException("no free port in " + RANGE[0] + "-" + RANGE[1]);
  }

  // [LOWEST, the ephemeral range's first port)
  private static int[] range() {
    try {
      String[] bounds = Files.readString(Path.of("/proc/sys/net/ipv4/ip_local_port_range"))
          .strip().split("\\s+");
      return new int[] {LOWEST, Integer.parseInt(bounds[0])};
    } catch (IOException | RuntimeException e) {
      return new int[] {LOWEST, 32_768}; // Linux's default
    }
  }

  private static boolean bindable(int port) {
    try (ServerSocket s = new ServerSocket(port)) {
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private static int kernelsPick() {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
