package dev.noid.agent.hypervisor;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.regex.Pattern;

/**
 * Can KVM boot a guest here? /dev/kvm alone is not enough: some hosts expose a KVM that is
 * itself emulated in software (e.g. PVM, module {@code kvm_pvm}), under which a Linux guest
 * never finishes booting. Hardware KVM needs all three: /dev/kvm opens read-write, the CPU
 * shows vmx or svm, and the vendor module (kvm_intel or kvm_amd) is loaded.
 */
public record KvmProbe(boolean usable, String reason) {
  private static final Pattern HW_VIRT = Pattern.compile("\\b(vmx|svm)\\b");

  public static KvmProbe probe() {
    return probe(Path.of("/dev/kvm"), Path.of("/proc/cpuinfo"), Path.of("/sys/module"));
  }

  public static KvmProbe probe(Path devKvm, Path cpuinfo, Path sysModule) {
    if (!Files.exists(devKvm)) {
      return new KvmProbe(false, devKvm + " does not exist");
    }
    try (FileChannel ignored = FileChannel.open(devKvm, StandardOpenOption.READ,
        StandardOpenOption.WRITE)) {
      // opening it is the test
    } catch (IOException | UnsupportedOperationException e) {
      return new KvmProbe(false, devKvm + " cannot be opened read-write: " + e.getMessage());
    }
    String flags;
    try {
      flags = Files.readString(cpuinfo);
    } catch (IOException e) {
      return new KvmProbe(false, "cannot read " + cpuinfo);
    }
    if (!HW_VIRT.matcher(flags).find()) {
      return new KvmProbe(false, "the CPU shows no vmx/svm flag: " + devKvm
          + " is a software KVM" + softwareModule(sysModule) + " that cannot boot a guest in time");
    }
    if (!Files.isDirectory(sysModule.resolve("kvm_intel"))
        && !Files.isDirectory(sysModule.resolve("kvm_amd"))) {
      return new KvmProbe(false, "neither kvm_intel nor kvm_amd is loaded" + softwareModule(sysModule));
    }
    return new KvmProbe(true, devKvm + " opens and the CPU has hardware virtualization");
  }

  private static String softwareModule(Path sysModule) {
    return Files.isDirectory(sysModule.resolve("kvm_pvm")) ? " (kvm_pvm is loaded)" : "";
  }
}
