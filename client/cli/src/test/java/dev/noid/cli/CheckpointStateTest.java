package dev.noid.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.noid.api.v1.Checkpoint;
import dev.noid.api.v1.CheckpointState;
import dev.noid.api.v1.ListCheckpointsRequest;
import dev.noid.api.v1.ListCheckpointsResponse;
import dev.noid.api.v1.VmServiceGrpc;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `noid checkpoints` says which checkpoints can be restored: a FAILED one (its only node was
 * removed) or one being deleted looked like any other, in the table and in JSON.
 */
class CheckpointStateTest {
  @TempDir
  Path home;
  private TlsController server;

  @BeforeEach
  void start() throws Exception {
    server = new TlsController(home, new VmServiceGrpc.VmServiceImplBase() {
      @Override
      public void listCheckpoints(ListCheckpointsRequest r, StreamObserver<ListCheckpointsResponse> out) {
        out.onNext(ListCheckpointsResponse.newBuilder()
            .addCheckpoints(Checkpoint.newBuilder().setId("ck-1").setVm("web").setLabel("good")
                .setState(CheckpointState.CHECKPOINT_STATE_READY))
            .addCheckpoints(Checkpoint.newBuilder().setId("ck-2").setVm("web").setLabel("gone")
                .setState(CheckpointState.CHECKPOINT_STATE_FAILED)
                .setStatusMessage("its files were only on node n1, which was removed"))
            // A state a newer controller may send, which this client's enum does not know.
            .addCheckpoints(Checkpoint.newBuilder().setId("ck-3").setVm("web").setLabel("new")
                .setStateValue(9))
            .build());
        out.onCompleted();
      }
    });
  }

  @AfterEach
  void stop() {
    server.close();
  }

  private String noid(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    PrintStream ps = new PrintStream(out, true, StandardCharsets.UTF_8);
    PrintStream errors = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
    PrintStream saved = System.out;
    System.setOut(ps);
    try {
      assertThat(InProcess.run(new Session(server.env, home, false, false, false, false, ps, errors),
          args)).isZero();
    } finally {
      System.setOut(saved);
    }
    return out.toString(StandardCharsets.UTF_8);
  }

  @Test
  void theTableHasAStateColumn() {
    String table = noid("checkpoints");

    assertThat(table.lines().findFirst().orElseThrow()).contains("STATE");
    assertThat(table.lines().filter(l -> l.startsWith("ck-1"))).singleElement().asString()
        .contains(" ready ");
    assertThat(table.lines().filter(l -> l.startsWith("ck-2"))).singleElement().asString()
        .contains(" failed ");
    assertThat(table.lines().filter(l -> l.startsWith("ck-3"))).singleElement().asString()
        .contains(" state 9 ");
  }

  @Test
  void jsonHasTheStateAndWhy() throws Exception {
    JsonNode all = new ObjectMapper().readTree(noid("checkpoints", "-o", "json"));

    assertThat(all.get(0).path("state").asText()).isEqualTo("ready");
    assertThat(all.get(1).path("state").asText()).isEqualTo("failed");
    assertThat(all.get(1).path("status_message").asText()).contains("which was removed");
  }
}
