package dev.noid.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.api.v1.ExecCommandRequest;
import dev.noid.api.v1.ExecCommandResponse;
import dev.noid.api.v1.ExecExit;
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
 * `noid exec` exits with its command's code, so its own failures cannot use the codes the
 * other commands do: a script could not tell "VM not found" (3) from a command that exited 3.
 * They exit 255, as ssh's do; the message says which failure it was.
 */
class ExecExitCodesTest {
  @TempDir
  Path home;
  private TlsController server;
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  @BeforeEach
  void start() throws Exception {
    server = new TlsController(home, new VmServiceGrpc.VmServiceImplBase() {
      @Override
      public StreamObserver<ExecCommandRequest> execCommand(StreamObserver<ExecCommandResponse> out) {
        return new StreamObserver<>() {
          @Override
          public void onNext(ExecCommandRequest r) {
            if (!r.hasStart()) {
              return;
            }
            if (r.getStart().getVm().equals("box")) {
              out.onNext(ExecCommandResponse.newBuilder()
                  .setExit(ExecExit.newBuilder().setExitCode(3)).build());
              out.onCompleted();
            } else {
              out.onError(Status.NOT_FOUND.withDescription("VM '" + r.getStart().getVm()
                  + "' not found").asRuntimeException());
            }
          }

          @Override
          public void onError(Throwable t) {}

          @Override
          public void onCompleted() {}
        };
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
  void theCommandsOwnCodeIsTheExitCode() {
    assertThat(noid("exec", "box", "--", "sh", "-c", "exit 3")).isEqualTo(3);
  }

  @Test
  void aVmThatIsNotThereIsNotACommandThatExited3() {
    assertThat(noid("exec", "gone", "--", "true")).isEqualTo(255);
    assertThat(err.toString(StandardCharsets.UTF_8)).isEqualTo("noid: VM 'gone' not found\n");

    assertThat(noid("info", "gone")).as("other commands keep theirs")
        .isNotEqualTo(255);
  }

  @Test
  void aCommandLineThatFailedBeforeItsOwnAnswerExits255OnlyForExec() {
    assertThat(CliException.failureOf(java.util.List.of("exec", "web", "--", "true"))).isEqualTo(255);
    assertThat(CliException.failureOf(java.util.List.of("list"))).isEqualTo(1);
    assertThat(CliException.failureOf(java.util.List.of("info", "exec"))).as("a VM named exec")
        .isEqualTo(1);
  }

  @Test
  void usageErrorsOfExecAreItsOwnToo() {
    assertThat(noid("exec", "box", "true")).as("no '--'").isEqualTo(255);
    assertThat(noid("exec", "--timeout", "soon", "box", "--", "true")).as("picocli's").isEqualTo(255);
    assertThat(noid("create", "--cpus", "many")).as("other commands keep theirs")
        .isEqualTo(CliException.USAGE);
  }
}
