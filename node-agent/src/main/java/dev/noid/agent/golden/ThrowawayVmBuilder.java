package dev.noid.agent.golden;

import dev.noid.agent.guest.GuestCommand;
import dev.noid.agent.guest.GuestConnection;
import dev.noid.agent.hypervisor.Hypervisor;
import dev.noid.agent.network.NodeNetwork;
import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.image.Image;
import dev.noid.api.agent.v1.VmSpec;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.agent.vm.DiskOverlay;
import dev.noid.agent.vm.Files2;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Builds a golden snapshot by booting a VM nobody uses, through the hypervisor port: boot,
 * wait for its guest agent, flush the guest's writes, pause, save state, stop. The VM never
 * ran anything of a user's, so its memory holds no one's data.
 */
public final class ThrowawayVmBuilder implements GoldenBuilder {
  /**
   * Run in the guest before its state is saved, in this order:
   *
   * <ul>
   *   <li>{@code sync}: the saved disk must hold every write the saved memory believes is on it.
   *   <li>Free memory overwritten with zeros (a tmpfs filled up to all but 24 MiB of it, then
   *       removed): boot leaves free pages full of old data, and the VMM's saved state stores a
   *       zero page as a flag instead of 4 KiB, so the state every create reads shrinks to the
   *       memory really in use. Best effort: without tmpfs or dd the snapshot is only bigger.
   *   <li>Last, an idle wait as long as the guest's uptime. Linux reseeds its random generator
   *       from the entropy pool and the cycle counter on the first use after the reseed
   *       interval, which in a guest younger than two minutes is half its uptime. A guest that
   *       used no randomness for that long before the save reseeds on its very first use after
   *       the restore, when every copy reads a different cycle counter, so no two VMs from one
   *       snapshot share a random stream. Without the wait they would for seconds: the kernel
   *       of the dev image has no VM generation id (CONFIG_VMGENID) to tell it it was cloned.
   *       Nothing may fork after the sleep: a fork draws randomness.
   * </ul>
   */
  static final List<String> PREPARE = List.of("sh", "-c", String.join("; ",
      "sync",
      "echo 3 >/proc/sys/vm/drop_caches 2>/dev/null",
      "free=$(awk '/^MemFree:/ {print int($2 / 1024) - 24}' /proc/meminfo 2>/dev/null)",
      "if [ \"${free:-0}\" -gt 0 ] && mkdir -p /run/noid-zero"
          + " && mount -t tmpfs -o size=${free}m tmpfs /run/noid-zero 2>/dev/null; then"
          + " dd if=/dev/zero of=/run/noid-zero/z bs=1M count=$free 2>/dev/null;"
          + " umount /run/noid-zero; rmdir /run/noid-zero; fi",
      "sync",
      "read -r up idle </proc/uptime",
      "exec sleep $(( ${up%.*} + 2 ))"));
  static final String HOSTNAME = "noid-golden";

  private final Hypervisor hypervisor;
  private final Duration bootTimeout;
  private final NodeNetwork network;

  public ThrowawayVmBuilder(Hypervisor hypervisor, Duration bootTimeout, NodeNetwork network) {
    this.hypervisor = hypervisor;
    this.bootTimeout = bootTimeout;
    this.network = network;
  }

  @Override
  public void build(GoldenKey key, Image image, Path buildDir) {
    VmLayout layout = new VmLayout(buildDir);
    VmSpec.Builder shape = VmSpec.newBuilder().setId("golden-" + key.dirName()).setHostname(HOSTNAME)
        .setImage(key.image()).setCpus(key.cpus()).setMemMib(key.memMib());
    // The snapshot's machine must have the NIC the VMs restored from it have; each of them
    // then gets its own TAP, MAC and address (told to the guest after the restore).
    // The lease is keyed by the build directory's name (".build-..."): no VM id starts with a
    // dot, so no VM can share the throwaway VM's address and TAP, nor lose its own to the build.
    String lease = buildDir.getFileName().toString();
    if (key.nic()) {
      // A user of its own: the throwaway VM reaches no user's VMs, nor they it.
      shape.setNetwork(network.attach(lease, "noid:golden-build"));
    }
    VmSpec spec = shape.build();
    long pid = -1;
    // From the attach on, whatever fails (a full disk at the copy, the VMM, the guest) gives the
    // address and TAP back: the build directory's name is never leased again, so a lease kept
    // here would stay until the agent restarts.
    Throwable failure = null;
    try {
      if (image.overlay()) {
        DiskOverlay.create(image.disk(), layout.disk(), -1);
      } else if (image.disk() != null) {
        Files2.copyDisk(image.disk(), layout.disk());
      }
      pid = hypervisor.boot(layout, spec, image);
      // Through the hypervisor's own transport: Cloud Hypervisor's vsock needs a handshake.
      try (GuestConnection guest = GuestConnection.open(
          hypervisor.openGuestChannel(layout, bootTimeout), spec.getId())) {
        guest.ready().get(bootTimeout.toMillis(), TimeUnit.MILLISECONDS);
        GuestCommand.Result r = GuestCommand.run(guest, PREPARE, Duration.ofSeconds(180));
        if (r.status() != 0) {
          throw new AgentException(Code.HYPERVISOR_FAILED, "preparing the golden guest failed: "
              + r.stderr());
        }
        hypervisor.pause(layout);
        Path state = Files.createDirectories(buildDir.resolve(GoldenStore.STATE_DIR));
        hypervisor.saveState(layout, state);
      }
    } catch (TimeoutException e) {
      failure = new AgentException(Code.HYPERVISOR_FAILED, "the golden guest of " + key.dirName()
          + " was not ready within " + bootTimeout.toSeconds() + " s");
    } catch (IOException | ExecutionException e) {
      failure = new AgentException(Code.HYPERVISOR_FAILED, "the golden guest of " + key.dirName()
          + " failed: " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      failure = new AgentException(Code.INTERNAL, "interrupted while building " + key.dirName(), e);
    } catch (RuntimeException | Error e) {
      failure = e; // an Error too: the VMM and the lease must not outlive the build
    }
    long started = pid;
    if (started > 0) {
      failure = attempt(() -> hypervisor.shutdown(layout, started), failure);
    }
    failure = attempt(() -> network.detach(lease), failure);
    if (failure instanceof Error error) {
      throw error;
    }
    if (failure != null) {
      throw (RuntimeException) failure;
    }
    if (!Files.exists(layout.disk())) {
      throw new AgentException(Code.INTERNAL, "image '" + key.image() + "' has no disk: golden"
          + " snapshots need one");
    }
  }

  /**
   * Runs a clean-up {@code step} whatever failed before it. The build's own failure stays the
   * one reported (a full disk, not the nft refusal that followed it); the step's is suppressed.
   */
  private static Throwable attempt(Runnable step, Throwable failure) {
    try {
      step.run();
      return failure;
    } catch (RuntimeException | Error e) {
      if (failure == null) {
        return e;
      }
      failure.addSuppressed(e);
      return failure;
    }
  }
}
