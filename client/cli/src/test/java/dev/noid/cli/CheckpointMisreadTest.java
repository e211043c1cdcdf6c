package dev.noid.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.api.v1.CreateCheckpointRequest;
import dev.noid.api.v1.CreateCheckpointResponse;
import dev.noid.api.v1.VmServiceGrpc;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `noid checkpoint delete ck-...` reads "delete" as the VM to checkpoint: the NOT_FOUND says
 * which command was meant. A VM of any other name that is not there is told as before.
 */
class CheckpointMisreadTest {
  @TempDir
  Path home;
  private TlsController server;
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  @BeforeEach
  void start() throws Exception {
    server = new TlsController(home, new VmServiceGrpc.VmServiceImplBase() {
      @Override
      public void createCheckpoint(CreateCheckpointRequest r,
          StreamObserver<CreateCheckpointResponse> out) {
        out.onError(Status.NOT_FOUND.withDescription("VM '" + r.getVm() + "' not found")
            .asRuntimeException());
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
  void aSubcommandTakenForAVmNameSaysWhichCommandWasMeant() {
    assertThat(noid("checkpoint", "delete", "ck-0123")).isEqualTo(CliException.NOT_FOUND);

    assertThat(err.toString(StandardCharsets.UTF_8)).contains("VM 'delete' not found")
        .contains("noid delete-checkpoint ID");
  }

  @Test
  void anyOtherMissingVmIsToldAsBefore() {
    assertThat(noid("checkpoint", "web")).isEqualTo(CliException.NOT_FOUND);

    assertThat(err.toString(StandardCharsets.UTF_8)).contains("VM 'web' not found")
        .doesNotContain("delete-checkpoint");
  }
}
