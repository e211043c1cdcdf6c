package dev.noid.agent.it;

import static dev.noid.agent.it.Guest.code;
import static dev.noid.agent.it.Guest.sh;
import static dev.noid.agent.it.Guest.spec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import dev.noid.api.agent.v1.AgentVmState;
import dev.noid.api.agent.v1.CheckpointChunk;
import dev.noid.api.agent.v1.CheckpointInfo;
import dev.noid.api.agent.v1.CreateCheckpointRequest;
import dev.noid.api.agent.v1.CreateVmRequest;
import dev.noid.api.agent.v1.DeleteCheckpointRequest;
import dev.noid.api.agent.v1.DestroyVmRequest;
import dev.noid.api.agent.v1.ListCheckpointsRequest;
import dev.noid.api.agent.v1.RestoreCheckpointRequest;
import dev.noid.api.agent.v1.VmReport;
import dev.noid.api.agent.v1.VmSpec;
import io.grpc.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two real agents on their own state directories: a checkpoint taken on A is streamed to B
 * (export -> import) and restored there as a new VM; a transfer with one flipped byte, or one
 * cut short, leaves nothing on B. Ordered: the later steps use the earlier checkpoint.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class CheckpointTransferIT {
  private static final String CK = "ck-move";
  @TempDir static Path dir;
  private AgentProcess a;
  private AgentProcess b;

  @BeforeAll
  void startTwoAgents() {
    a = new AgentProcess(dir.resolve("a"), dir).start();
    b = new AgentProcess(dir.resolve("b"), dir).start();
  }

  @AfterAll
  void stop() throws Exception {
    for (AgentProcess p : new AgentProcess[] {a, b}) {
      if (p != null) {
        p.close();
      }
    }
  }

  private Stream<Path> entriesOnB() throws Exception {
    Path checkpoints = b.stateDir.resolve("checkpoints");
    return Files.exists(checkpoints) ? Files.list(checkpoints).toList().stream() : Stream.empty();
  }

  @Test
  @Order(1)
  void aCheckpointTakenOnARestoresOnB() throws Exception {
    AgentCreates.create(a.stub(), CreateVmRequest.newBuilder().setSpec(spec("src")).build());
    assertThat(sh(a, "src", "echo moved > /data/f; sync").exitCode()).isZero();
    CheckpointInfo taken = a.stub().createCheckpoint(CreateCheckpointRequest.newBuilder()
        .setVmId("src").setCheckpointId(CK).setLabel("to b").build()).getCheckpoint();
    // A's guest is not needed any more; two guests at most run on this machine.
    a.stub().destroyVm(DestroyVmRequest.newBuilder().setId("src").build());

    CheckpointInfo imported = TamperingRelay.copy(a, b, CK, UnaryOperator.identity());
    assertThat(imported.getId()).isEqualTo(CK);
    assertThat(imported.getVmId()).isEqualTo("src");
    assertThat(imported.getLabel()).isEqualTo("to b");
    assertThat(imported.getSpec()).isEqualTo(taken.getSpec());
    assertThat(imported.getSizeBytes()).isPositive();
    assertThat(b.stub().listCheckpoints(ListCheckpointsRequest.getDefaultInstance())
        .getCheckpointsList()).extracting(CheckpointInfo::getId).containsExactly(CK);

    VmReport vm = b.stub().restoreCheckpoint(RestoreCheckpointRequest.newBuilder()
        .setCheckpointId(CK).setTarget(VmSpec.newBuilder().setId("dst")).build()).getVm();
    assertThat(vm.getState()).isEqualTo(AgentVmState.AGENT_VM_STATE_RUNNING);
    assertThat(vm.getRestoredFromCheckpointId()).isEqualTo(CK);
    assertThat(sh(b, "dst", "cat /data/f").stdout()).isEqualTo("moved\n");
    assertThat(sh(b, "dst", "hostname").stdout()).isEqualTo("dst\n");
  }

  @Test
  @Order(2)
  void importingACheckpointBTheNodeAlreadyHasIsAlreadyExists() throws Exception {
    assertThatThrownBy(() -> TamperingRelay.copy(a, b, CK, UnaryOperator.identity()))
        .satisfies(t -> assertThat(code(t)).isEqualTo(Status.Code.ALREADY_EXISTS))
        .hasMessageContaining("'" + CK + "'");
    assertThat(b.stub().listCheckpoints(ListCheckpointsRequest.getDefaultInstance())
        .getCheckpointsList()).extracting(CheckpointInfo::getId).containsExactly(CK);
  }

  @Test
  @Order(3)
  void oneFlippedByteIsRefusedWithDataLossAndLeavesNothingOnB() throws Exception {
    b.stub().deleteCheckpoint(DeleteCheckpointRequest.newBuilder().setCheckpointId(CK).build());
    assertThat(entriesOnB()).isEmpty();
    // The guest's memory travels as the checkpoint's memory base (the state holds devices).
    AtomicInteger memoryChunks = new AtomicInteger();
    UnaryOperator<CheckpointChunk> flipOneByteOfTheThirdMemoryChunk = m -> {
      if (!m.hasChunk() || !m.getChunk().getPath().startsWith("memory-base/")
          || memoryChunks.incrementAndGet() != 3) {
        return m;
      }
      byte[] data = m.getChunk().getData().toByteArray();
      data[data.length / 2] ^= 0x40;
      return m.toBuilder().setChunk(m.getChunk().toBuilder().setData(ByteString.copyFrom(data)))
          .build();
    };

    assertThatThrownBy(() -> TamperingRelay.copy(a, b, CK, flipOneByteOfTheThirdMemoryChunk))
        .satisfies(t -> assertThat(code(t)).isEqualTo(Status.Code.DATA_LOSS))
        .hasMessageContaining("'memory-base/")
        .hasMessageContaining("offset " + 2 * (1 << 20));
    assertThat(entriesOnB()).isEmpty();
    assertThat(b.stub().listCheckpoints(ListCheckpointsRequest.getDefaultInstance())
        .getCheckpointsList()).isEmpty();
    // B is unharmed: its restored VM still runs commands.
    assertThat(sh(b, "dst", "echo ok").stdout()).isEqualTo("ok\n");
  }

  @Test
  @Order(4)
  void aTransferCutShortLeavesNothingOnB() throws Exception {
    Path partial = b.stateDir.resolve("checkpoints/" + CK + ".partial");
    TamperingRelay.cutShort(a, b, CK, 1 + 5, () -> await().atMost(Duration.ofSeconds(30))
        .until(() -> Files.exists(partial)));

    await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(entriesOnB()).isEmpty());
    assertThat(b.stub().listCheckpoints(ListCheckpointsRequest.getDefaultInstance())
        .getCheckpointsList()).isEmpty();
  }
}
