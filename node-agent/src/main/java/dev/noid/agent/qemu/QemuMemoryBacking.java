package dev.noid.agent.qemu;

import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.memory.MemoryBases;
import dev.noid.agent.memory.SavedMemory;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.agent.vm.AtomicFiles;
import dev.noid.api.agent.v1.VmSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Where a restored QEMU guest's RAM comes from: a saved state with a memory base has its RAM
 * mapped from that base (copy-on-write); one from before memory bases carries all of it.
 */
final class QemuMemoryBacking {
  private final MemoryBases bases;

  /** {@code bases}: null when the agent runs with {@code --restore-memory copy}. */
  QemuMemoryBacking(MemoryBases bases) {
    this.bases = bases;
  }

  /** Refuses, touching nothing, a state whose base is not here or whose RAM is another size. */
  void check(VmSpec spec, Path stateDir) {
    if (!SavedMemory.presentIn(stateDir)) {
      return; // a state from before memory bases holds all of its RAM
    }
    requireBases(spec);
    SavedMemory m = savedMemory(spec, stateDir);
    if (!bases.has(m.base())) {
      throw baseMissing(spec, m);
    }
  }

  /**
   * The QEMU arguments that back the guest's RAM for a restore of {@code stateDir}, with the
   * base named in the VM's directory (or the name of an earlier one removed).
   */
  List<String> argsFor(VmLayout layout, VmSpec spec, Path stateDir) {
    if (!SavedMemory.presentIn(stateDir)) {
      forgetBase(layout); // a state from before memory bases holds all of its RAM
      return List.of();
    }
    requireBases(spec);
    // Guest RAM is the base file mapped privately: pages are read as the guest touches them
    // and shared with every VM restored over the same base until one writes them.
    return List.of("-mem-path", bases.path(baseFor(layout, spec, stateDir)).toString());
  }

  private void requireBases(VmSpec spec) {
    if (bases == null) {
      throw new AgentException(Code.WRONG_STATE, "the saved state of VM '" + spec.getId()
          + "' keeps its memory in a base; this agent runs with --restore-memory copy");
    }
  }

  private static SavedMemory savedMemory(VmSpec spec, Path stateDir) {
    SavedMemory m;
    try {
      m = SavedMemory.read(stateDir);
    } catch (IOException e) {
      throw new AgentException(Code.CORRUPT, "cannot restore VM '" + spec.getId() + "': "
          + e.getMessage(), e);
    }
    long bytes = (long) spec.getMemMib() << 20;
    if (m.memoryBytes() != bytes) {
      throw new AgentException(Code.INVALID_ARGUMENT, "saved memory holds " + m.memoryBytes()
          + " bytes; VM '" + spec.getId() + "' has " + bytes);
    }
    return m;
  }

  private static AgentException baseMissing(VmSpec spec, SavedMemory m) {
    return new AgentException(Code.NOT_FOUND, "memory base sha256:" + m.base() + " of the saved"
        + " state of VM '" + spec.getId() + "' is not on this node");
  }

  // Named in the VM's directory before QEMU maps it: from then on the collector keeps it.
  private String baseFor(VmLayout layout, VmSpec spec, Path stateDir) {
    SavedMemory m = savedMemory(spec, stateDir);
    // Checked and marked used in one step under the collector's lock: checked, then named, a
    // base whose last checkpoint was being deleted could go in between, and QEMU given a
    // missing -mem-path creates it, all zeros, under the base's real digest.
    if (!bases.holdIfPresent(m.base())) {
      throw baseMissing(spec, m);
    }
    try {
      AtomicFiles.writeString(layout.memoryBase(), m.base());
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "cannot write " + layout.memoryBase() + ": "
          + e.getMessage(), e);
    }
    return m.base();
  }

  /** A guest booted, not restored, maps no base: the name of an earlier one goes. */
  static void forgetBase(VmLayout layout) {
    try {
      Files.deleteIfExists(layout.memoryBase());
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "cannot remove " + layout.memoryBase() + ": "
          + e.getMessage(), e);
    }
  }
}
