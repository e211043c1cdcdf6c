package dev.noid.agent.golden;

import dev.noid.api.agent.v1.HypervisorKind;
import java.util.Locale;

/**
 * The shape a golden snapshot fits: a VM restored from it has exactly this image, vCPU count,
 * memory and hypervisor (a VMM can only load state saved by the same device layout). One
 * snapshot per key per node; what makes it stale is in {@link GoldenVersion}.
 */
public record GoldenKey(String image, int cpus, int memMib, HypervisorKind hypervisor, boolean nic) {

  /** A shape without a network interface. */
  public GoldenKey(String image, int cpus, int memMib, HypervisorKind hypervisor) {
    this(image, cpus, memMib, hypervisor, false);
  }

  public GoldenKey withNic(boolean value) {
    return new GoldenKey(image, cpus, memMib, hypervisor, value);
  }

  /** Parses {@code IMAGE:CPUS:MEM_MIB}, the form of the {@code golden-keys} setting. */
  public static GoldenKey parse(String text, HypervisorKind hypervisor) {
    String[] parts = text.strip().split(":");
    if (parts.length != 3 || parts[0].isEmpty()) {
      throw new IllegalArgumentException("'golden-keys' entries are IMAGE:CPUS:MEM_MIB; got '"
          + text + "'");
    }
    try {
      int cpus = Integer.parseInt(parts[1]);
      int mem = Integer.parseInt(parts[2]);
      if (cpus <= 0 || mem <= 0) {
        throw new NumberFormatException();
      }
      return new GoldenKey(parts[0], cpus, mem, hypervisor);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("'golden-keys' entry '" + text
          + "' needs positive CPUS and MEM_MIB");
    }
  }

  /** The snapshot's directory name: readable, with anything odd in an image name replaced. */
  public String dirName() {
    String kind = hypervisor.name().replace("HYPERVISOR_KIND_", "").toLowerCase(Locale.ROOT);
    return image.replaceAll("[^A-Za-z0-9._-]", "_") + "-" + cpus + "cpu-" + memMib + "mib-" + kind
        + (nic ? "-nic" : "");
  }
}
