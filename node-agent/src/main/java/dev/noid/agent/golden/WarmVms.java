package dev.noid.agent.golden;

import dev.noid.agent.guest.GuestCommand;
import dev.noid.agent.guest.GuestConnection;
import dev.noid.agent.hypervisor.Hypervisor;
import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.identity.IdentityFix;
import dev.noid.agent.image.Image;
import dev.noid.agent.network.GuestNetworkScript;
import dev.noid.agent.network.NodeNetwork;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.agent.vm.AtomicFiles;
import dev.noid.agent.vm.Files2;
import dev.noid.agent.vm.NodeCapacity;
import dev.noid.api.agent.v1.VmNetwork;
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
 * running, idle, with its guest connection open: a create takes both over (see
 * {@link WarmPool}), so the guest never sees the host go and come back.
 *
 * <p>A shape with a NIC gets its own address, TAP and MAC, leased under the warm directory's
 * name (which no VM id can be) and owned by nobody else, so no VM reaches it; its guest is told
 * the address now, and a create takes the address over with the VM.
 */
final class WarmVms implements WarmMaker {
  private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(30);

  private final Path vmsDir;
  private final Hypervisor hypervisor;
  private final GoldenSnapshots goldens;
  private final NodeCapacity capacity;
  private final IdentityFix identity;
  private final Duration bootTimeout;
  private final NodeNetwork network;

  WarmVms(Path vmsDir, Hypervisor hypervisor, GoldenSnapshots goldens, NodeCapacity capacity,
      IdentityFix identity, Duration bootTimeout, NodeNetwork network) {
    this.network = network;
    this.vmsDir = vmsDir;
    this.hypervisor = hypervisor;
    this.goldens = goldens;
    this.capacity = capacity;
    this.identity = identity;
    this.bootTimeout = bootTimeout;
  }

  @Override
  public WarmPool.Warm make(GoldenKey key, Image image) throws IOException {
    String name = ".warm-" + UUID.randomUUID().toString().substring(0, 8);
    VmLayout layout = new VmLayout(vmsDir.resolve(name));
    VmSpec spec = VmSpec.newBuilder().setId(name.substring(1)).setHostname("noid-warm")
        .setImage(key.image()).setCpus(key.cpus()).setMemMib(key.memMib()).build();
    NodeCapacity.Hold hold = capacity.hold("a warm VM of " + key.dirName(), key.cpus(),
        key.memMib());
    long pid = -1;
    String address = key.nic() ? name : null;
    GuestConnection guest = null;
    try {
      VmNetwork nic = null;
      if (address != null) {
        nic = network.attach(address, "noid:warm:" + name);
        spec = spec.toBuilder().setNetwork(nic).build();
      }
      String buildId;
      try (GoldenSnapshots.Lease lease = goldens.acquire(image, spec)) {
        if (lease == null) {
          discard(layout, pid, hold, address, null);
          return null;
        }
        Files.createDirectories(layout.dir());
        Files2.copyDisk(lease.golden().disk(), layout.disk());
        pid = hypervisor.restore(layout, spec, image, lease.golden().dir());
        buildId = lease.golden().buildId();
      }
      // Where its VMM's command line says it was started, written while that is this very
      // directory: the marker moves with it when a create takes it over, so the VMM is known
      // for this VM's wherever the take stops.
      AtomicFiles.writeString(layout.startedInMarker(), layout.dir().toString());
      guest = GuestConnection.open(hypervisor.openGuestChannel(layout, bootTimeout),
          spec.getId());
      // A restored guest answers in ~20 ms; one that has not in 20 s will not.
      guest.ready().get(Math.min(bootTimeout.toMillis(), 20_000), TimeUnit.MILLISECONDS);
      GuestConnection to = guest;
      requireOk(identity.applyTo(spec, argv -> GuestCommand.run(to, argv, COMMAND_TIMEOUT)),
          "the identity fix");
      if (nic != null) {
        run(guest, GuestNetworkScript.argv(nic));
      }
      run(guest, List.of("true"));
      return new WarmPool.Warm(key, buildId, layout, pid, hold, address, guest);
    } catch (IOException | RuntimeException | ExecutionException | TimeoutException e) {
      discard(layout, pid, hold, address, guest);
      throw new AgentException(Code.HYPERVISOR_FAILED, "warming a VM of " + key.dirName()
          + " failed: " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      discard(layout, pid, hold, address, guest);
      throw new AgentException(Code.INTERNAL, "interrupted while warming a VM", e);
    }
  }

  private static void run(GuestConnection guest, List<String> argv) throws IOException,
      TimeoutException, InterruptedException {
    requireOk(GuestCommand.run(guest, argv, COMMAND_TIMEOUT), argv.get(0));
  }

  private static void requireOk(GuestCommand.Result r, String what) throws IOException {
    if (r.status() != 0) {
      throw new IOException(what + " exited " + r.status() + ": " + r.stderr().strip());
    }
  }

  @Override
  public void discard(WarmPool.Warm w) {
    discard(w.layout(), w.pid(), w.hold(), w.lease(), w.guest());
  }

  /**
   * Closes a warm VM's guest connection (if any), stops its VMM, releases its memory, its
   * address ({@code lease}, null without a NIC) once the VMM is gone, and removes its directory.
   */
  void discard(VmLayout layout, long pid, NodeCapacity.Hold hold, String lease,
      GuestConnection guest) {
    try {
      if (guest != null) {
        guest.close();
      }
      if (pid > 0) {
        hypervisor.shutdown(layout, pid);
      }
    } finally {
      try {
        // Even if the VMM would not stop: the TAP goes with the lease, so nothing it sends
        // reaches the bridge, and no address stays leased to nobody.
        if (lease != null) {
          network.detach(lease);
        }
      } finally {
        hold.close();
        Files2.deleteTree(layout.dir());
      }
    }
  }
}
