package dev.noid.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.noid.api.v1.ExecCommandRequest;
import dev.noid.api.v1.ExecCommandResponse;
import dev.noid.api.v1.ExecExit;
import dev.noid.api.v1.VmServiceGrpc;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `noid exec -i VM -- cat`: the caller's stdin reaches the command, then its end does. */
class ExecStdinTest {
  @TempDir
  Path home;

  /** A `cat`: echoes each stdin chunk as stdout; exits 0 at the end of stdin. */
  private final VmServiceGrpc.VmServiceImplBase cat = new VmServiceGrpc.VmServiceImplBase() {
    @Override
    public StreamObserver<ExecCommandRequest> execCommand(StreamObserver<ExecCommandResponse> out) {
      return new StreamObserver<>() {
        private boolean wantsStdin;

        @Override
        public void onNext(ExecCommandRequest r) {
          if (r.hasStart()) {
            wantsStdin = r.getStart().getStdin();
          } else if (r.hasStdin() && wantsStdin) {
            out.onNext(ExecCommandResponse.newBuilder().setStdout(r.getStdin()).build());
          } else if (r.getStdinClose()) {
            out.onNext(ExecCommandResponse.newBuilder()
                .setExit(ExecExit.newBuilder().setExitCode(0)).build());
            out.onCompleted();
          }
        }

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {}
      };
    }
  };

  @Test
  void theCallersInputReachesTheCommandAndItsEndEndsIt() throws Exception {
    byte[] input = new byte[3 * 1024 * 1024 + 17];
    new Random(7).nextBytes(input);
    ByteArrayOutputStream stdout = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(stdout, true, StandardCharsets.UTF_8);
    PrintStream err = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
    InputStream savedIn = System.in;
    try (TlsController controller = new TlsController(home, cat)) {
      System.setIn(new ByteArrayInputStream(input));
      Session s = new Session(controller.env, home, false, false, false, false, out, err);

      int code = CompletableFuture.supplyAsync(() -> NoidCli.run(s, "exec", "-i", "vm1", "--", "cat"))
          .get(60, TimeUnit.SECONDS);

      assertThat(code).isZero();
      assertThat(ByteString.copyFrom(stdout.toByteArray())).isEqualTo(ByteString.copyFrom(input));
    } finally {
      System.setIn(savedIn);
    }
  }

  /** The daemon does not have the caller's stdin: it hands the command back to the client. */
  @Test
  void inTheDaemonItIsHandedBackToTheClient() {
    PrintStream sink = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
    Session inDaemon = new Session(java.util.Map.of("HOME", home.toString(), "NOID_URL",
        "localhost:1", "NOID_TOKEN", "noid_tok_test"), home, false, false, false, true, sink, sink);

    assertThatThrownBy(() -> NoidCli.run(inDaemon, "exec", "-i", "vm1", "--", "cat"))
        .isInstanceOf(Session.NeedsTerminal.class);
  }
}
