package dev.noid.agent.cloudhypervisor;

import dev.noid.agent.golden.FileDigests;
import dev.noid.agent.golden.GoldenMode;
import dev.noid.agent.golden.GoldenSnapshots;
import dev.noid.agent.golden.GoldenStore;
import dev.noid.agent.golden.ImageDigest;
import dev.noid.agent.identity.IdentityFix;
import dev.noid.agent.hypervisor.Hypervisor;
import dev.noid.agent.image.Image;
import dev.noid.agent.image.ImageCatalog;
import dev.noid.agent.image.NodeImages;
import dev.noid.agent.network.NoNetwork;
import dev.noid.agent.vm.NodeCapacity;
import dev.noid.agent.vm.VmManager;
import dev.noid.api.agent.v1.HypervisorKind;
import dev.noid.api.agent.v1.VmSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;

/** A VmManager over the Cloud Hypervisor driver and {@link FakeChBinary}, golden snapshots off. */
final class FakeChVms {
  private FakeChVms() {}

  static VmManager manager(Path tmp, NodeCapacity capacity) throws IOException {
    return manager(tmp, capacity, driver(tmp));
  }

  static VmManager manager(Path tmp, NodeCapacity capacity, Hypervisor hypervisor)
      throws IOException {
    Path img = Files.createDirectories(tmp.resolve("images/dev"));
    Files.writeString(img.resolve("vmlinuz"), "kernel");
    Files.writeString(img.resolve("disk.img"), "template disk");
    Image image = new Image("dev", img.resolve("vmlinuz"), null, img.resolve("disk.img"),
        "console=ttyS0", 64);
    FileDigests digests = new FileDigests();
    GoldenSnapshots goldens = new GoldenSnapshots(GoldenMode.OFF,
        new GoldenStore(tmp.resolve("golden"), digests),
        (key, i, dir) -> { throw new AssertionError("no golden builds with golden off"); },
        capacity, new ImageDigest(digests), HypervisorKind.HYPERVISOR_KIND_CLOUD_HYPERVISOR,
        "test", Clock.systemUTC(), Duration.ofSeconds(5), Duration.ofMinutes(10));
    return VmManager.assemble(tmp.resolve("vms"), hypervisor, NodeImages.local(new ImageCatalog(Map.of("dev", image))),
        capacity, Duration.ofSeconds(60), new NoNetwork(), goldens, IdentityFix.standard(Clock.systemUTC()));
  }

  static CloudHypervisorDriver driver(Path tmp) throws IOException {
    return new CloudHypervisorDriver(FakeChBinary.write(tmp.resolve("bin")).toString(), "test",
        VmmApi.MemoryRestoreMode.Copy);
  }

  static VmSpec spec(String id, int memMib) {
    return VmSpec.newBuilder().setId(id).setCpus(1).setMemMib(memMib).setImage("dev").build();
  }
}
