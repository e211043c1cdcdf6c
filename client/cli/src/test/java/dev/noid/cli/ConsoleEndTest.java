package dev.noid.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.api.v1.AttachConsoleRequest;
import dev.noid.api.v1.AttachConsoleResponse;
import dev.noid.api.v1.VmServiceGrpc;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A console the controller ends (the VM stopped or moved, the token rotated) hands the
 * terminal back with the reason at once: it used to wait, raw and silent, for the next key.
 */
class ConsoleEndTest {
  @TempDir
  Path home;

  @Test
  void aConsoleEndedByTheControllerEndsTheCommandWithoutAKeyPressed() throws Exception {
    VmServiceGrpc.VmServiceImplBase vms = new VmServiceGrpc.VmServiceImplBase() {
      @Override
      public StreamObserver<AttachConsoleRequest> attachConsole(
          StreamObserver<AttachConsoleResponse> out) {
        return new StreamObserver<>() {
          @Override
          public void onNext(AttachConsoleRequest r) {
            if (r.hasAttach()) {
              out.onError(Status.FAILED_PRECONDITION.withDescription("vm1 was stopped")
                  .asRuntimeException());
            }
          }

          @Override
          public void onError(Throwable t) {}

          @Override
          public void onCompleted() {}
        };
      }
    };
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream errors = new PrintStream(err, true, StandardCharsets.UTF_8);
    PrintStream sink = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
    // Standard input that nobody types on: a read blocks until the pipe closes.
    PipedOutputStream keyboard = new PipedOutputStream();
    InputStream savedIn = System.in;
    PrintStream savedErr = System.err;
    try (TlsController controller = new TlsController(home, vms);
        PipedInputStream typed = new PipedInputStream(keyboard)) {
      System.setIn(typed);
      System.setErr(errors);
      Session session = new Session(controller.env, home, false, false, false, false, sink, errors);
      CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(
          () -> NoidCli.run(session, "console", "vm1"));

      assertThat(exit.get(30, TimeUnit.SECONDS)).isEqualTo(CliException.REFUSED);
      assertThat(err.toString(StandardCharsets.UTF_8)).contains("vm1 was stopped");
    } finally {
      keyboard.close();
      System.setIn(savedIn);
      System.setErr(savedErr);
    }
  }
}
