package dev.noid.agent.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.noid.api.agent.v1.ConsoleRequest;
import dev.noid.api.agent.v1.ConsoleResponse;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A guest that does not read its serial line: console input that cannot be written within the
 * limit ends the session, so the VM's console is free again. Before, the write blocked for
 * good, and the session stayed attached after its user left (the cancel handler runs only
 * after the input callback returns).
 */
class ConsoleWriteDeadlineTest {
  @TempDir Path tmp;

  @Test
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void inputTheSerialPortDoesNotTakeEndsTheSessionAndFreesTheConsole() throws Exception {
    Path serial = tmp.resolve("console.sock");
    try (ServerSocketChannel vmm = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      vmm.bind(UnixDomainSocketAddress.of(serial));
      Caller first = new Caller();
      ConsoleCall call = new ConsoleCall(id -> serial, first, Duration.ofMillis(500));
      call.onNext(ConsoleRequest.newBuilder().setVmId("vm-stuck-serial").build());
      try (SocketChannel port = vmm.accept()) {
        // Never read: more input than the socket holds blocks the write.
        call.onNext(ConsoleRequest.newBuilder()
            .setInput(ByteString.copyFrom(new byte[16 << 20])).build());

        Status ended = first.ended.get(10, TimeUnit.SECONDS);
        assertThat(ended.getCode()).isEqualTo(Status.Code.INTERNAL);
        assertThat(ended.getDescription()).contains("500 ms");

        Caller second = new Caller();
        new ConsoleCall(id -> serial, second, Duration.ofMillis(500))
            .onNext(ConsoleRequest.newBuilder().setVmId("vm-stuck-serial").build());
        try (SocketChannel again = vmm.accept()) {
          assertThat(second.ended).as("attached again").isNotDone();
        }
      }
    }
  }

  /** The caller's end of the call: only how it ended is kept. */
  private static final class Caller extends ServerCallStreamObserver<ConsoleResponse> {
    final CompletableFuture<Status> ended = new CompletableFuture<>();

    @Override
    public void onNext(ConsoleResponse value) {}

    @Override
    public void onError(Throwable t) {
      ended.complete(Status.fromThrowable(t));
    }

    @Override
    public void onCompleted() {
      ended.complete(Status.OK);
    }

    @Override
    public boolean isCancelled() {
      return false;
    }

    @Override
    public void setOnCancelHandler(Runnable onCancelHandler) {}

    @Override
    public void setCompression(String compression) {}

    @Override
    public boolean isReady() {
      return true;
    }

    @Override
    public void setOnReadyHandler(Runnable onReadyHandler) {}

    @Override
    public void disableAutoInboundFlowControl() {}

    @Override
    public void request(int count) {}

    @Override
    public void setMessageCompression(boolean enable) {}
  }
}
