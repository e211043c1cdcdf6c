package dev.noid.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.api.v1.ExecCommandRequest;
import dev.noid.api.v1.ExecCommandResponse;
import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.api.v1.WatchVmsRequest;
import dev.noid.api.v1.WatchVmsResponse;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * In-process (`NOID_DAEMON=0`), `noid watch | head -1` and `noid exec ... | head` end once the
 * reader is gone, exit 141 as a shell reports SIGPIPE, and the exec's command is cancelled:
 * the PrintStream kept the write error to itself and both ran on.
 */
class ClosedPipeTest {
  @TempDir
  Path home;

  private final CountDownLatch cancelled = new CountDownLatch(1);

  private final VmServiceGrpc.VmServiceImplBase vms = new VmServiceGrpc.VmServiceImplBase() {
    @Override
    public void watchVms(WatchVmsRequest r, StreamObserver<WatchVmsResponse> out) {
      ((ServerCallStreamObserver<WatchVmsResponse>) out).setOnCancelHandler(cancelled::countDown);
      out.onNext(WatchVmsResponse.newBuilder()
          .setType(WatchVmsResponse.EventType.EVENT_TYPE_SYNCED).setRevision(1).build());
    }

    @Override
    public StreamObserver<ExecCommandRequest> execCommand(StreamObserver<ExecCommandResponse> out) {
      ((ServerCallStreamObserver<ExecCommandResponse>) out).setOnCancelHandler(cancelled::countDown);
      return new StreamObserver<>() {
        @Override
        public void onNext(ExecCommandRequest r) {
          if (r.hasStart()) {
            out.onNext(ExecCommandResponse.newBuilder()
                .setStdout(com.google.protobuf.ByteString.copyFromUtf8("line 1\n")).build());
          }
        }

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {}
      };
    }
  };

  private int runWithReaderGone(String... args) throws Exception {
    PrintStream gone = new PrintStream(new OutputStream() {
      @Override
      public void write(int b) throws IOException {
        throw new IOException("Broken pipe");
      }
    }, true, StandardCharsets.UTF_8);
    PrintStream errors = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
    try (TlsController controller = new TlsController(home, vms)) {
      Session s = new Session(controller.env, home, false, false, false, false, gone, errors);
      int code = CompletableFuture.supplyAsync(() -> NoidCli.run(s, args))
          .get(30, TimeUnit.SECONDS);
      assertThat(cancelled.await(10, TimeUnit.SECONDS)).as("the stream was cancelled").isTrue();
      return code;
    }
  }

  @Test
  void aWatchWhoseReaderWentEnds() throws Exception {
    assertThat(runWithReaderGone("watch")).isEqualTo(CliException.READER_GONE);
  }

  @Test
  void anExecWhoseReaderWentEndsAndItsCommandIsCancelled() throws Exception {
    assertThat(runWithReaderGone("exec", "vm1", "--", "yes")).isEqualTo(CliException.READER_GONE);
  }
}
