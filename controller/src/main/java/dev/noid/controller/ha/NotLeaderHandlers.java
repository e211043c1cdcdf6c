package dev.noid.controller.ha;

import io.grpc.HandlerRegistry;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.Status;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * What a follower answers for the calls it neither serves nor forwards ({@link LeaderForwarding}:
 * the node agents', and any while no controller leads): UNAVAILABLE, naming the leader in the
 * message and in the {@code noid-leader} trailer. Agents route by the {@code noid.leader}
 * health status and rarely get here; others (and humans) learn where to go.
 */
final class NotLeaderHandlers extends HandlerRegistry {
  static final Metadata.Key<String> LEADER_TRAILER =
      Metadata.Key.of("noid-leader", Metadata.ASCII_STRING_MARSHALLER);
  /**
   * On every refusal: nothing of the call was done, so a client may repeat it without asking
   * whether the first try was carried out (the SDK's checkpoint deletion: docs/api.md).
   */
  static final Metadata.Key<String> NOT_APPLIED_TRAILER =
      Metadata.Key.of("noid-not-applied", Metadata.ASCII_STRING_MARSHALLER);
  private static final MethodDescriptor.Marshaller<byte[]> BYTES =
      new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
          return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
          try {
            return stream.readAllBytes();
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        }
      };

  private final Leadership leadership;

  NotLeaderHandlers(Leadership leadership) {
    this.leadership = leadership;
  }

  @Override
  public ServerMethodDefinition<?, ?> lookupMethod(String methodName, String authority) {
    MethodDescriptor<byte[], byte[]> method = bytesMethod(methodName);
    ServerCallHandler<byte[], byte[]> refuse = (call, headers) -> refuse(call);
    return ServerMethodDefinition.create(method, refuse);
  }

  /** Any method, its messages as bytes: what a handler that never parses them declares. */
  static MethodDescriptor<byte[], byte[]> bytesMethod(String methodName) {
    return MethodDescriptor.<byte[], byte[]>newBuilder()
        .setType(MethodDescriptor.MethodType.UNKNOWN)
        .setFullMethodName(methodName)
        .setRequestMarshaller(BYTES)
        .setResponseMarshaller(BYTES)
        .build();
  }

  /** Ends {@code call} with UNAVAILABLE naming the leader, if one leads. */
  <Q, R> io.grpc.ServerCall.Listener<Q> refuse(io.grpc.ServerCall<Q, R> call) {
    Leadership.View v = leadership.view();
    Metadata trailers = new Metadata();
    trailers.put(NOT_APPLIED_TRAILER, "follower");
    String message;
    if (v.leaderAddress().isEmpty()) {
      message = "controller " + leadership.ownAddress() + " is a follower and no controller"
          + " leads right now; retry shortly";
    } else {
      message = "controller " + leadership.ownAddress() + " is a follower; the leader is "
          + v.leaderAddress() + " (epoch " + v.epoch() + ")";
      trailers.put(LEADER_TRAILER, v.leaderAddress());
    }
    call.close(Status.UNAVAILABLE.withDescription(message), trailers);
    return new io.grpc.ServerCall.Listener<>() {};
  }
}
