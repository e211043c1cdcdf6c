package dev.noid.agent.hypervisor;

import java.util.List;
import java.util.Locale;

/**
 * Which hypervisor this agent runs, why, and what the other one lacks. {@code auto} prefers
 * Cloud Hypervisor, the production hypervisor, wherever it can boot a guest: its binary runs
 * and KVM is hardware-backed. Otherwise QEMU, which falls back to TCG.
 */
public record HypervisorChoice(Kind kind, String reason, String otherMissing, String chosenMissing) {
  public enum Kind {
    QEMU("qemu"), CLOUD_HYPERVISOR("cloud-hypervisor");

    private final String configName;

    Kind(String configName) {
      this.configName = configName;
    }

    public String configName() {
      return configName;
    }
  }

  public static final List<String> CONFIG_VALUES = List.of("auto", "qemu", "cloud-hypervisor");

  /** Usable when what was chosen lacks nothing. */
  public boolean usable() {
    return chosenMissing == null;
  }

  /**
   * @param chProblem null when the Cloud Hypervisor binary runs, else why not
   * @param qemuProblem null when the QEMU binary runs, else why not
   */
  public static HypervisorChoice choose(String configured, String chProblem, KvmProbe kvm,
      String qemuProblem) {
    String chMissing = join(chProblem, kvm.usable() ? null : "KVM: " + kvm.reason());
    String mode = configured.toLowerCase(Locale.ROOT);
    return switch (mode) {
      case "qemu" -> new HypervisorChoice(Kind.QEMU, "hypervisor=qemu configured", chMissing,
          qemuProblem);
      case "cloud-hypervisor" -> new HypervisorChoice(Kind.CLOUD_HYPERVISOR,
          "hypervisor=cloud-hypervisor configured", qemuProblem, chMissing);
      case "auto" -> chMissing == null
          ? new HypervisorChoice(Kind.CLOUD_HYPERVISOR, "auto: the Cloud Hypervisor binary runs"
              + " and " + kvm.reason(), qemuProblem, null)
          : new HypervisorChoice(Kind.QEMU, "auto: Cloud Hypervisor cannot run here ("
              + chMissing + ")", chMissing, qemuProblem);
      default -> throw new IllegalArgumentException("'hypervisor' must be one of "
          + CONFIG_VALUES + "; got '" + configured + "'");
    };
  }

  private static String join(String a, String b) {
    if (a == null) {
      return b;
    }
    return b == null ? a : a + "; " + b;
  }
}
