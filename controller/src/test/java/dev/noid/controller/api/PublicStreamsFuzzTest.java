package dev.noid.controller.api;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.controller.users.Principal;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Issue 19 fuzzing: the public API's bidirectional streams, ExecCommand and AttachConsole, fed
 * a few fuzzer-made messages (sent unparsed) against a running VM on a fake agent. However
 * the conversation goes, the call ends with a status a client can act on: never UNKNOWN or
 * INTERNAL (a stream left open by the fuzzer's messages ends at its deadline). CI replays the
 * corpus in src/test/resources/dev/noid/controller/api/PublicStreamsFuzzTestInputs.
 */
class PublicStreamsFuzzTest {
  private static InProcessController controller;
  private static ManagedChannel channel;
  private static CallOptions user;

  @BeforeAll
  static void start() throws Exception {
    controller = new InProcessController(Files.createTempDirectory("noid-streams-fuzz"),
        Duration.ofSeconds(10), Map.of("node-a", 1L << 20));
    channel = controller.channel();
    user = CallOptions.DEFAULT.withCallCredentials(
        ConcurrentCreateTest.bearer(controller.users.add("fuzz", "user").token()));
    controller.create(new Principal("fuzz", false), CreateVmRequest.newBuilder().setName("web")
        .setCpus(1).setMemMib(128).build());
  }

  @AfterAll
  static void stop() {
    channel.shutdownNow();
    controller.close();
  }

  @FuzzTest(maxDuration = "2m")
  void anyConversationEndsWithAStatusAClientCanActOn(FuzzedDataProvider data) throws Exception {
    MethodDescriptor<?, ?> method = data.consumeBoolean() ? VmServiceGrpc.getExecCommandMethod()
        : VmServiceGrpc.getAttachConsoleMethod();
    MethodDescriptor<byte[], byte[]> raw = RawRequests.of(method);
    CompletableFuture<Status> ended = new CompletableFuture<>();
    ClientCall<byte[], byte[]> call = channel.newCall(raw, user.withDeadlineAfter(2, TimeUnit.SECONDS));
    StreamObserver<byte[]> requests = ClientCalls.asyncBidiStreamingCall(call, new StreamObserver<>() {
      @Override
      public void onNext(byte[] value) { }

      @Override
      public void onError(Throwable t) {
        ended.complete(Status.fromThrowable(t));
      }

      @Override
      public void onCompleted() {
        ended.complete(Status.OK);
      }
    });
    int messages = data.consumeInt(0, 4);
    for (int i = 0; i < messages; i++) {
      requests.onNext(data.consumeBytes(data.consumeInt(0, 256)));
    }
    if (data.consumeBoolean()) {
      requests.onCompleted();
    }
    Status s = ended.get(30, TimeUnit.SECONDS);
    if (s.getCode() == Status.Code.UNKNOWN || s.getCode() == Status.Code.INTERNAL) {
      throw new AssertionError(method.getFullMethodName() + " ended " + s);
    }
  }
}
