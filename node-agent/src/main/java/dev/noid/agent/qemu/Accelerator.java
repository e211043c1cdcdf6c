package dev.noid.agent.qemu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;

/**
 * KVM or TCG, and why. /dev/kvm alone is not enough: some hosts expose a KVM device that is
 * itself emulated in software (no vmx/svm flag on the CPU), under which a Linux guest never
 * finishes booting; TCG boots it in seconds there.
 */
public record Accelerator(String name, String reason) {
  private static final Pattern HW_VIRT = Pattern.compile("\\b(vmx|svm)\\b");

  public static Accelerator detect(String configured, Path devKvm, Path cpuinfo) {
    if ("tcg".equals(configured)) {
      return new Accelerator("tcg", "accelerator=tcg configured");
    }
    if ("kvm".equals(configured)) {
      return new Accelerator("kvm", "accelerator=kvm configured");
    }
    if (!Files.exists(devKvm)) {
      return new Accelerator("tcg", devKvm + " does not exist: using TCG (software emulation)");
    }
    if (!Files.isReadable(devKvm) || !Files.isWritable(devKvm)) {
      return new Accelerator("tcg", devKvm + " is not read-write for this user: using TCG");
    }
    String flags;
    try {
      flags = Files.readString(cpuinfo);
    } catch (IOException e) {
      return new Accelerator("tcg", "cannot read " + cpuinfo + ": using TCG");
    }
    if (!HW_VIRT.matcher(flags).find()) {
      return new Accelerator("tcg", devKvm + " exists but the CPU shows no vmx/svm flag, so KVM"
          + " is emulated in software and cannot boot a guest in time: using TCG");
    }
    return new Accelerator("kvm", devKvm + " is usable and the CPU has hardware virtualization");
  }
}
