package dev.noid.agent.hypervisor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.noid.agent.hypervisor.HypervisorChoice.Kind;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** auto, qemu, cloud-hypervisor; and how KVM is told from a software imitation. */
class HypervisorChoiceTest {
  @TempDir Path tmp;

  private static final KvmProbe HW = new KvmProbe(true, "hardware KVM");
  private static final KvmProbe SOFT = new KvmProbe(false, "the CPU shows no vmx/svm flag");

  @Test
  void autoPicksCloudHypervisorWhenItRunsAndKvmIsHardware() {
    HypervisorChoice c = HypervisorChoice.choose("auto", null, HW, null);

    assertThat(c.kind()).isEqualTo(Kind.CLOUD_HYPERVISOR);
    assertThat(c.usable()).isTrue();
    assertThat(c.otherMissing()).isNull();
  }

  @Test
  void autoFallsBackToQemuAndSaysWhatCloudHypervisorLacks() {
    HypervisorChoice c = HypervisorChoice.choose("auto", "cannot run cloud-hypervisor", SOFT, null);

    assertThat(c.kind()).isEqualTo(Kind.QEMU);
    assertThat(c.usable()).isTrue();
    assertThat(c.reason()).contains("cannot run cloud-hypervisor").contains("no vmx/svm");
    assertThat(c.otherMissing()).contains("cannot run cloud-hypervisor").contains("KVM: ");
  }

  @Test
  void autoWithTheBinaryButSoftwareKvmIsQemu() {
    assertThat(HypervisorChoice.choose("auto", null, SOFT, null).kind()).isEqualTo(Kind.QEMU);
  }

  @Test
  void configuredCloudHypervisorIsKeptEvenWhenItCannotRunAndSaysSo() {
    HypervisorChoice c = HypervisorChoice.choose("cloud-hypervisor", null, SOFT, null);

    assertThat(c.kind()).isEqualTo(Kind.CLOUD_HYPERVISOR);
    assertThat(c.usable()).isFalse();
    assertThat(c.chosenMissing()).contains("no vmx/svm");
  }

  @Test
  void configuredQemuWithoutQemuIsUnusable() {
    HypervisorChoice c = HypervisorChoice.choose("qemu", null, HW, "cannot run qemu-system-x86_64");

    assertThat(c.kind()).isEqualTo(Kind.QEMU);
    assertThat(c.usable()).isFalse();
    assertThat(c.otherMissing()).isNull();
  }

  @Test
  void anUnknownValueIsRefused() {
    assertThatThrownBy(() -> HypervisorChoice.choose("firecracker", null, HW, null))
        .hasMessageContaining("'hypervisor' must be one of");
  }

  @Test
  void kvmNeedsTheDeviceTheCpuFlagAndTheVendorModule() throws Exception {
    Path kvm = Files.writeString(tmp.resolve("kvm"), "");
    Path cpuinfo = Files.writeString(tmp.resolve("cpuinfo"), "flags : fpu vme sse2 vmx hypervisor\n");
    Path modules = Files.createDirectories(tmp.resolve("module"));
    Files.createDirectories(modules.resolve("kvm"));

    assertThat(KvmProbe.probe(tmp.resolve("missing"), cpuinfo, modules).usable()).isFalse();
    KvmProbe noVendor = KvmProbe.probe(kvm, cpuinfo, modules);
    assertThat(noVendor.usable()).isFalse();
    assertThat(noVendor.reason()).contains("kvm_intel");

    Files.createDirectories(modules.resolve("kvm_intel"));
    assertThat(KvmProbe.probe(kvm, cpuinfo, modules).usable()).isTrue();
  }

  @Test
  void paravirtualKvmWithoutHardwareVirtualizationIsNotUsable() throws Exception {
    Path kvm = Files.writeString(tmp.resolve("kvm"), "");
    Path cpuinfo = Files.writeString(tmp.resolve("cpuinfo"), "flags : fpu vme sse2 hypervisor\n");
    Path modules = Files.createDirectories(tmp.resolve("module"));
    Files.createDirectories(modules.resolve("kvm_pvm"));

    KvmProbe p = KvmProbe.probe(kvm, cpuinfo, modules);

    assertThat(p.usable()).isFalse();
    assertThat(p.reason()).contains("no vmx/svm").contains("kvm_pvm is loaded");
  }
}
