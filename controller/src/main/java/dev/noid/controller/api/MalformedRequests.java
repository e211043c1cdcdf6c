package dev.noid.controller.api;

import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.ForwardingServerCallListener;
import java.io.InputStream;

/**
 * Answers a request that is not a valid message of its RPC's type with INVALID_ARGUMENT naming
 * the type. grpc-java itself answers UNKNOWN "Application error processing RPC" when a
 * request fails to parse (found by fuzzing, issue 19): each method's request marshaller is
 * wrapped to hand on a marker instead of throwing, and an interceptor ends the call on it
 * before any handler sees it.
 */
public final class MalformedRequests {
  /** What a request that failed to parse becomes on its way to the interceptor. */
  private record Malformed(String type) {}

  private MalformedRequests() {}

  public static ServerServiceDefinition refusedAsInvalid(ServerServiceDefinition def) {
    ServiceDescriptor old = def.getServiceDescriptor();
    ServiceDescriptor.Builder descriptor = ServiceDescriptor.newBuilder(old.getName())
        .setSchemaDescriptor(old.getSchemaDescriptor());
    java.util.List<ServerMethodDefinition<?, ?>> methods = new java.util.ArrayList<>();
    for (ServerMethodDefinition<?, ?> m : def.getMethods()) {
      ServerMethodDefinition<?, ?> wrapped = wrap(m);
      descriptor.addMethod(wrapped.getMethodDescriptor());
      methods.add(wrapped);
    }
    ServerServiceDefinition.Builder b = ServerServiceDefinition.builder(descriptor.build());
    methods.forEach(b::addMethod);
    return ServerInterceptors.intercept(b.build(), new Refuser());
  }

  private static <Q, R> ServerMethodDefinition<Q, R> wrap(ServerMethodDefinition<Q, R> m) {
    MethodDescriptor<Q, R> md = m.getMethodDescriptor();
    String type = md.getFullMethodName() + " request";
    MethodDescriptor.Marshaller<Q> parse = md.getRequestMarshaller();
    MethodDescriptor.Marshaller<Q> lenient = new MethodDescriptor.Marshaller<>() {
      @Override
      public InputStream stream(Q value) {
        return parse.stream(value);
      }

      @Override
      @SuppressWarnings("unchecked")
      public Q parse(InputStream in) {
        try {
          return parse.parse(in);
        } catch (RuntimeException e) {
          return (Q) new Malformed(type); // erased: only the Refuser ever sees it
        }
      }
    };
    return ServerMethodDefinition.create(md.toBuilder().setRequestMarshaller(lenient).build(),
        m.getServerCallHandler());
  }

  private static final class Refuser implements ServerInterceptor {
    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
        ServerCallHandler<Q, R> next) {
      ServerCall.Listener<Q> delegate = next.startCall(call, headers);
      return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(delegate) {
        private boolean refused;

        @Override
        public void onMessage(Q message) {
          if (refused) {
            return;
          }
          if ((Object) message instanceof Malformed m) {
            refused = true;
            call.close(Status.INVALID_ARGUMENT.withDescription(
                "the message is not a valid " + m.type() + " (protobuf)"), new Metadata());
            return;
          }
          super.onMessage(message);
        }

        @Override
        public void onHalfClose() {
          if (!refused) {
            super.onHalfClose();
          }
        }
      };
    }
  }
}
