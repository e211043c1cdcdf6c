package dev.noid.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.api.v1.MigrateVmRequest;
import dev.noid.api.v1.MigrateVmResponse;
import dev.noid.api.v1.MigrationReport;
import dev.noid.api.v1.VmServiceGrpc;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `noid migrate web node-b` names the target as people write it; before, it was "Unmatched
 * argument at index 2" and only --node worked.
 */
class MigrateNodeWordTest {
  @TempDir
  Path home;
  private TlsController server;
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();
  private final List<MigrateVmRequest> asked = new CopyOnWriteArrayList<>();

  @BeforeEach
  void start() throws Exception {
    server = new TlsController(home, new VmServiceGrpc.VmServiceImplBase() {
      @Override
      public void migrateVm(MigrateVmRequest r, StreamObserver<MigrateVmResponse> out) {
        asked.add(r);
        out.onNext(MigrateVmResponse.newBuilder().setReport(MigrationReport.newBuilder()
            .setMethod(MigrationReport.Method.METHOD_LIVE).setTargetNode(r.getNode())).build());
        out.onCompleted();
      }
    });
  }

  @AfterEach
  void stop() {
    server.close();
  }

  private int noid(String... args) {
    return InProcess.run(server.env, home, err, args);
  }

  @Test
  void theNodeMayFollowTheVmAsAWord() {
    assertThat(noid("migrate", "web", "node-b")).isZero();
    assertThat(noid("migrate", "web", "--node", "node-c")).isZero();
    assertThat(noid("migrate", "web")).isZero();

    assertThat(asked).extracting(MigrateVmRequest::getName, MigrateVmRequest::getNode)
        .containsExactly(org.assertj.core.groups.Tuple.tuple("web", "node-b"),
            org.assertj.core.groups.Tuple.tuple("web", "node-c"),
            org.assertj.core.groups.Tuple.tuple("web", ""));
  }

  @Test
  void twoDifferentTargetsAreRefusedBeforeAnythingMoves() {
    assertThat(noid("migrate", "web", "node-b", "--node", "node-c")).isEqualTo(CliException.USAGE);

    assertThat(asked).isEmpty();
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("'node-b'").contains("node-c");
  }
}
