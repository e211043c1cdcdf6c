package dev.noid.agent.golden;

import dev.noid.agent.guest.GuestCommand;
import dev.noid.agent.guest.GuestConnection;
import dev.noid.agent.hypervisor.Hypervisor;
import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.identity.IdentityFix;
import dev.noid.agent.image.Image;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.agent.vm.Files2;
import dev.noid.agent.vm.NodeCapacity;
import dev.noid.api.agent.v1.VmSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Makes one warm VM: restored from its shape's golden snapshot into {@code vms/.warm-*}, its
 * guest given a throwaway identity and one {@code true} run, so that the code paths a create
 * then needs are already translated (under TCG, each restored VMM starts with none), and left
 * running, idle, with no guest connection. A create takes it over (see {@link WarmPool}).
 */
final class WarmVms {
  private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(30);

  private final Path vmsDir;
  private final Hypervisor hypervisor;
  private final GoldenSnapshots goldens;
  private final NodeCapacity capacity;
  private final IdentityFix identity;
  private final Duration bootTimeout;

  WarmVms(Path vmsDir, Hypervisor hypervisor, GoldenSnapshots goldens, NodeCapacity capacity,
      IdentityFix identity, Duration bootTimeout) {
    this.vmsDir = vmsDir;
    this.hypervisor = hypervisor;
    this.goldens = goldens;
    this.capacity = capacity;
    this.identity = identity;
    this.bootTimeout = bootTimeout;
  }

  /** A warm VM of {@code key}, or null when its golden snapshot is not there (yet). */
  WarmPool.Warm make(GoldenKey key, Image image) throws IOException {
    String name = ".warm-" + UUID.randomUUID().toString().substring(0, 8);
    VmLayout layout = new VmLayout(vmsDir.resolve(name));
    VmSpec spec = VmSpec.newBuilder().setId(name.substring(1)).setHostname("noid-warm")
        .setImage(key.image()).setCpus(key.cpus()).setMemMib(key.memMib()).build();
    NodeCapacity.Hold hold = capacity.hold("a warm VM of " + key.dirName(), key.cpus(),
        key.memMib());
    long pid = -1;
    try {
      String buildId;
      try (GoldenSnapshots.Lease lease = goldens.acquire(image, spec)) {
        if (lease == null) {
          hold.close();
          return null;
        }
        Files.createDirectories(layout.dir());
        Files2.copyDisk(lease.golden().disk(), layout.disk());
        pid = hypervisor.restore(layout, spec, image, lease.golden().dir());
        buildId = lease.golden().buildId();
      }
      try (GuestConnection guest = GuestConnection.open(
          hypervisor.openGuestChannel(layout, bootTimeout), spec.getId())) {
        // A restored guest answers in ~20 ms; one that has not in 20 s will not.
        guest.ready().get(Math.min(bootTimeout.toMillis(), 20_000), TimeUnit.MILLISECONDS);
        run(guest, identity.command(spec));
        run(guest, List.of("true"));
      }
      return new WarmPool.Warm(key, buildId, layout, pid, hold);
    } catch (IOException | RuntimeException | ExecutionException | TimeoutException e) {
      discard(layout, pid, hold);
      throw new AgentException(Code.HYPERVISOR_FAILED, "warming a VM of " + key.dirName()
          + " failed: " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      discard(layout, pid, hold);
      throw new AgentException(Code.INTERNAL, "interrupted while warming a VM", e);
    }
  }

  private static void run(GuestConnection guest, List<String> argv) throws IOException,
      TimeoutException, InterruptedException {
    GuestCommand.Result r = GuestCommand.run(guest, argv, COMMAND_TIMEOUT);
    if (r.status() != 0) {
      throw new IOException(argv.get(0) + " exited " + r.status() + ": " + r.stderr().strip());
    }
  }

  /** Stops a warm VM's VMM, releases its memory and removes its directory. */
  void discard(VmLayout layout, long pid, NodeCapacity.Hold hold) {
    try {
      if (pid > 0) {
        hypervisor.shutdown(layout, pid);
      }
    } finally {
      hold.close();
      Files2.deleteTree(layout.dir());
    }
  }
}
