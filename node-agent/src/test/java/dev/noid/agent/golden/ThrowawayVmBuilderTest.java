package dev.noid.agent.golden;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.noid.agent.hypervisor.Hypervisor;
import dev.noid.agent.image.Image;
import dev.noid.agent.network.NodeNetwork;
import dev.noid.agent.vm.AgentException;
import dev.noid.api.agent.v1.HypervisorKind;
import dev.noid.api.agent.v1.VmNetwork;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Whatever ends a golden build after its lease (an exception or an Error), the throwaway VMM is
 * stopped and the lease given back, and the build's own failure is the one thrown. The faults
 * here (an Error from the guest channel, a clean-up that throws) cannot be caused on demand
 * with a real VMM; WarmPoolNetworkIT covers the same paths with QEMU and nft where it can.
 */
class ThrowawayVmBuilderTest {
  private static final long PID = 4242;
  private static final GoldenKey KEY =
      new GoldenKey("dev", 1, 128, HypervisorKind.HYPERVISOR_KIND_QEMU, true);

  @TempDir Path dir;
  private final List<String> calls = new ArrayList<>();

  @Test
  void anErrorFromTheGuestStillStopsTheVmmAndGivesTheLeaseBack() throws Exception {
    ThrowawayVmBuilder builder = new ThrowawayVmBuilder(
        hypervisor(Map.of("openGuestChannel", a -> {
          throw new AssertionError("no guest channel");
        })), java.time.Duration.ofSeconds(5), new FakeNetwork(null));

    Throwable thrown = catchThrowable(() -> builder.build(KEY, image(),
        Files.createDirectories(dir.resolve(".build-1"))));

    assertThat(thrown).isInstanceOf(AssertionError.class).hasMessage("no guest channel");
    assertThat(calls).containsExactly("attach .build-1", "boot", "openGuestChannel",
        "shutdown " + PID, "detach .build-1");
  }

  @Test
  void aCleanUpThatFailsTooIsSuppressedUnderTheBuildsOwnFailureAndEveryStepRuns() throws Exception {
    AgentException guestGone = new AgentException(AgentException.Code.HYPERVISOR_FAILED,
        "the guest went away");
    ThrowawayVmBuilder builder = new ThrowawayVmBuilder(hypervisor(Map.of(
        "openGuestChannel", a -> {
          throw guestGone;
        },
        "shutdown", a -> {
          throw new AssertionError("the VMM would not stop");
        })), java.time.Duration.ofSeconds(5),
        new FakeNetwork(new IllegalStateException("nft refused")));

    Throwable thrown = catchThrowable(() -> builder.build(KEY, image(),
        Files.createDirectories(dir.resolve(".build-2"))));

    assertThat(thrown).isSameAs(guestGone);
    assertThat(thrown.getSuppressed()).extracting(Throwable::getMessage)
        .containsExactly("the VMM would not stop", "nft refused");
    assertThat(calls).containsExactly("attach .build-2", "boot", "openGuestChannel",
        "shutdown " + PID, "detach .build-2");
  }

  private Image image() throws Exception {
    Path disk = Files.writeString(dir.resolve("disk.img"), "disk");
    return new Image("dev", dir.resolve("vmlinuz"), null, disk, "console=ttyS0", 64);
  }

  /** A hypervisor that records each call, answers {@code boot} with {@link #PID}, and runs {@code faults}. */
  private Hypervisor hypervisor(Map<String, Function<Object[], Object>> faults) {
    return (Hypervisor) Proxy.newProxyInstance(getClass().getClassLoader(),
        new Class<?>[] {Hypervisor.class}, (proxy, method, args) -> {
          String name = method.getName();
          calls.add("shutdown".equals(name) ? "shutdown " + args[1] : name);
          if (faults.containsKey(name)) {
            return faults.get(name).apply(args);
          }
          return "boot".equals(name) ? PID : null;
        });
  }

  /** Records attach and detach; {@code detachFault}, when set, is thrown by each detach. */
  private final class FakeNetwork implements NodeNetwork {
    private final RuntimeException detachFault;

    FakeNetwork(RuntimeException detachFault) {
      this.detachFault = detachFault;
    }

    @Override
    public void start(Map<String, String> vmOwners) {}

    @Override
    public VmNetwork attach(String vmId, String owner) {
      calls.add("attach " + vmId);
      return VmNetwork.newBuilder().setIp("10.0.0.2").setTap("nt0").setMac("52:54:00:00:00:02")
          .build();
    }

    @Override
    public VmNetwork transfer(String fromVmId, String toVmId, String owner) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void detach(String vmId) {
      calls.add("detach " + vmId);
      if (detachFault != null) {
        throw detachFault;
      }
    }

    @Override
    public boolean enabled() {
      return true;
    }

    @Override
    public String describe() {
      return "fake";
    }
  }
}
