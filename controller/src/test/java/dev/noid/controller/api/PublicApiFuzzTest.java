package dev.noid.controller.api;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.noid.api.v1.NodeServiceGrpc;
import dev.noid.api.v1.UserServiceGrpc;
import dev.noid.api.v1.VmServiceGrpc;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Issue 19 fuzzing: every unary and server-streaming RPC of the public API, with a request the
 * fuzzer makes, through the real interceptors and services against fake agents, as an admin
 * (who may call all of them). Whatever the request, the answer is a status a client can act
 * on: never UNKNOWN or INTERNAL. The fuzzer's bytes choose the RPC and are sent as its request,
 * unparsed, so malformed messages are fuzzed too.
 * CI replays the corpus in src/test/resources/dev/noid/controller/api/PublicApiFuzzTestInputs;
 * deploy/bench/fuzz.sh fuzzes.
 */
class PublicApiFuzzTest {
  // Calls that would end the fuzzing session itself rather than test anything.
  private static final Set<String> SELF_DEFEATING = Set.of("\"root\"", "\"node-a\"");
  private static InProcessController controller;
  private static ManagedChannel channel;
  private static CallOptions admin;
  private static final List<MethodDescriptor<Object, Object>> METHODS = new ArrayList<>();

  @SuppressWarnings("unchecked")
  @BeforeAll
  static void start() throws Exception {
    Path dir = Files.createTempDirectory("noid-api-fuzz");
    controller = new InProcessController(dir, Duration.ofSeconds(10), Map.of("node-a", 1L << 20));
    channel = controller.channel();
    admin = CallOptions.DEFAULT.withCallCredentials(
        ConcurrentCreateTest.bearer(controller.users.add("root", "admin").token()));
    for (var service : List.of(VmServiceGrpc.getServiceDescriptor(),
        NodeServiceGrpc.getServiceDescriptor(), UserServiceGrpc.getServiceDescriptor())) {
      for (MethodDescriptor<?, ?> m : service.getMethods()) {
        if (m.getType() == MethodDescriptor.MethodType.UNARY
            || m.getType() == MethodDescriptor.MethodType.SERVER_STREAMING) {
          METHODS.add((MethodDescriptor<Object, Object>) m);
        }
      }
    }
    METHODS.sort(java.util.Comparator.comparing(MethodDescriptor::getFullMethodName));
  }

  @AfterAll
  static void stop() {
    channel.shutdownNow();
    controller.close();
  }

  @FuzzTest(maxDuration = "3m")
  void anyRequestGetsAStatusAClientCanActOn(FuzzedDataProvider data) {
    MethodDescriptor<Object, Object> m = METHODS.get(data.consumeInt(0, METHODS.size() - 1));
    byte[] body = data.consumeRemainingAsBytes();
    String request;
    try {
      request = String.valueOf(m.parseRequest(new ByteArrayInputStream(body)));
    } catch (RuntimeException notAMessage) {
      request = "(not a valid message: " + body.length + " bytes)";
    }
    if (SELF_DEFEATING.stream().anyMatch(request::contains)
        && !m.getFullMethodName().contains("/Get") && !m.getFullMethodName().contains("/List")) {
      return;
    }
    // The bytes go as they are: the server parses them, as it would a hostile client's.
    MethodDescriptor<byte[], byte[]> raw = RawRequests.of(m);
    CallOptions options = admin.withDeadlineAfter(10, TimeUnit.SECONDS);
    try {
      if (m.getType() == MethodDescriptor.MethodType.UNARY) {
        ClientCalls.blockingUnaryCall(channel, raw, options, body);
      } else {
        Iterator<byte[]> answers = ClientCalls.blockingServerStreamingCall(
            channel, raw, options.withDeadlineAfter(2, TimeUnit.SECONDS), body);
        for (int i = 0; i < 3 && answers.hasNext(); i++) {
          answers.next();
        }
      }
    } catch (StatusRuntimeException e) {
      Status.Code code = e.getStatus().getCode();
      if (code == Status.Code.UNKNOWN || code == Status.Code.INTERNAL) {
        throw new AssertionError(m.getFullMethodName() + " answered " + e.getStatus()
            + " to " + request, e);
      }
    }
  }
}
