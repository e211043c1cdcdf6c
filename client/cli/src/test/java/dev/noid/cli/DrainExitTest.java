package dev.noid.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.api.v1.DrainNodeRequest;
import dev.noid.api.v1.DrainNodeResponse;
import dev.noid.api.v1.DrainSummary;
import dev.noid.api.v1.DrainVmProgress;
import dev.noid.api.v1.NodeServiceGrpc;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `noid nodes drain` in a maintenance script (`drain && poweroff`): a drain that left VMs on
 * the node must not exit 0.
 */
class DrainExitTest {
  @TempDir
  Path home;
  private TlsController server;

  @AfterEach
  void stop() {
    if (server != null) {
      server.close();
    }
  }

  private Map<String, String> controllerThatDrains(List<String> moved, List<String> failed)
      throws Exception {
    server = new TlsController(home, new NodeServiceGrpc.NodeServiceImplBase() {
      @Override
      public void drainNode(DrainNodeRequest r, StreamObserver<DrainNodeResponse> out) {
        DrainSummary.Builder summary = DrainSummary.newBuilder();
        moved.forEach(vm -> summary.addMoved(DrainVmProgress.newBuilder().setVm(vm)));
        failed.forEach(vm -> summary.addFailed(DrainVmProgress.newBuilder().setVm(vm)
            .setMessage("no node has room")));
        out.onNext(DrainNodeResponse.newBuilder().setSummary(summary).build());
        out.onCompleted();
      }
    });
    return server.env;
  }

  private int drain(Map<String, String> env, ByteArrayOutputStream err) {
    PrintStream sink = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
    PrintStream errors = new PrintStream(err, true, StandardCharsets.UTF_8);
    return InProcess.run(new Session(env, home, false, false, false, false, sink, errors),
        "nodes", "drain", "node-a");
  }

  @Test
  void aDrainThatLeftVmsOnTheNodeFails() throws Exception {
    ByteArrayOutputStream err = new ByteArrayOutputStream();

    int code = drain(controllerThatDrains(List.of("web"), List.of("db", "cache")), err);

    assertThat(code).isEqualTo(CliException.FAILURE);
    assertThat(err.toString(StandardCharsets.UTF_8))
        .contains("2 VMs could not move off node-a").contains("db").contains("cache");
  }

  @Test
  void aDrainThatMovedEverythingSucceeds() throws Exception {
    ByteArrayOutputStream err = new ByteArrayOutputStream();

    assertThat(drain(controllerThatDrains(List.of("web", "db"), List.of()), err)).isZero();
  }
}
