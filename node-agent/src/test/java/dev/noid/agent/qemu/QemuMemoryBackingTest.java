package dev.noid.agent.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.noid.agent.hypervisor.VmLayout;
import dev.noid.agent.memory.MemoryBases;
import dev.noid.agent.memory.SavedMemory;
import dev.noid.agent.vm.AgentException;
import dev.noid.api.agent.v1.VmSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How a QEMU restore maps its RAM from a memory base, and keeps that base from the collector. */
class QemuMemoryBackingTest {
  private static final VmSpec SPEC = VmSpec.newBuilder().setId("web").setMemMib(1).build();

  @TempDir Path tmp;
  private MemoryBases bases;
  private VmLayout layout;
  private Path state;

  @BeforeEach
  void dirs() throws IOException {
    bases = new MemoryBases(tmp.resolve("memory"));
    layout = new VmLayout(Files.createDirectories(tmp.resolve("vms/web")));
    state = Files.createDirectories(tmp.resolve("checkpoints/cp1/state"));
  }

  private String unusedBase() throws IOException {
    Path f = bases.newFile();
    Files.write(f, new byte[] {7});
    String sha = bases.adopt(f);
    Instant old = Instant.now().minus(MemoryBases.GRACE).minusSeconds(60);
    Files.setLastModifiedTime(bases.path(sha), FileTime.from(old));
    new SavedMemory(SavedMemory.FORMAT, sha, 1 << 20, 256, 3, false).write(state);
    return sha;
  }

  /**
   * The collector marks what is named, then deletes what was not and is past its grace. A
   * restore that names a base after the mark and before the sweep must have marked it used as
   * it checked it: else the sweep deletes the file QEMU is about to map, and QEMU given a
   * missing -mem-path creates it, all zeros, under the base's digest.
   */
  @Test
  void aRestoreHoldsItsBaseAgainstASweepMarkedBeforeItWasNamed() throws IOException {
    String sha = unusedBase();
    Set<String> markedBefore = Set.of();

    assertThat(new QemuMemoryBacking(bases).argsFor(layout, SPEC, state))
        .containsExactly("-mem-path", bases.path(sha).toString());
    bases.collect(markedBefore, Instant.now());

    assertThat(bases.has(sha)).as("the base the restore maps").isTrue();
    assertThat(Files.readString(layout.memoryBase())).isEqualTo(sha);
  }

  @Test
  void aMissingBaseIsNotFoundAndNamesNothing() throws IOException {
    String sha = unusedBase();
    Files.delete(bases.path(sha));

    AgentException e = catchThrowableOfType(AgentException.class,
        () -> new QemuMemoryBacking(bases).argsFor(layout, SPEC, state));

    assertThat(e.code()).isEqualTo(AgentException.Code.NOT_FOUND);
    assertThat(e.getMessage()).contains(sha).contains("not on this node");
    assertThat(layout.memoryBase()).doesNotExist();
  }

  @Test
  void theCheckRefusesAnotherSizeAndAnAgentWithoutBasesBeforeAnythingIsTouched()
      throws IOException {
    unusedBase();
    VmSpec bigger = SPEC.toBuilder().setMemMib(2).build();

    AgentException size = catchThrowableOfType(AgentException.class,
        () -> new QemuMemoryBacking(bases).check(bigger, state));
    AgentException copy = catchThrowableOfType(AgentException.class,
        () -> new QemuMemoryBacking(null).check(SPEC, state));

    assertThat(size.code()).isEqualTo(AgentException.Code.INVALID_ARGUMENT);
    assertThat(size.getMessage()).contains("1048576").contains("2097152");
    assertThat(copy.code()).isEqualTo(AgentException.Code.WRONG_STATE);
    assertThat(copy.getMessage()).contains("--restore-memory copy");
    assertThat(layout.memoryBase()).doesNotExist();
  }

  @Test
  void aStateFromBeforeBasesMapsNoneAndForgetsAnEarlierName() throws IOException {
    Files.writeString(layout.memoryBase(), "0".repeat(64));

    assertThat(new QemuMemoryBacking(bases).argsFor(layout, SPEC, state)).isEmpty();
    assertThat(layout.memoryBase()).doesNotExist();
  }
}
