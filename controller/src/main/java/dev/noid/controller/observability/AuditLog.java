package dev.noid.controller.observability;

import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import dev.noid.common.logging.LogSetup;
import dev.noid.controller.api.GrpcStatusMapper;
import dev.noid.controller.users.Principal;
import io.grpc.ForwardingServerCall.SimpleForwardingServerCall;
import io.grpc.ForwardingServerCallListener.SimpleForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.util.List;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Writes every mutating call to the audit log (who, what, target, result, duration) and gives
 * each call a request id that its server-log lines carry. Runs inside authentication so it
 * knows who called.
 */
public final class AuditLog implements ServerInterceptor {
  private static final Logger audit = LoggerFactory.getLogger(LogSetup.AUDIT_LOGGER);
  private static final List<String> READ_ONLY = List.of("/Get", "/List", "/Watch", "/WhoAmI", "/Check");
  private static final List<String> TARGET_FIELDS = List.of("name", "vm", "id", "checkpoint", "as_name");
  /** Names are at most 63 characters; a call may still send megabytes, one log line per call. */
  static final int MAX_TARGET = 128;

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    String method = call.getMethodDescriptor().getFullMethodName();
    String service = call.getMethodDescriptor().getServiceName();
    if (service == null || !service.startsWith("noid.v1.")
        || READ_ONLY.stream().anyMatch(method::contains)) {
      return next.startCall(call, headers);
    }
    Principal who = dev.noid.controller.api.AuthInterceptor.PRINCIPAL.get();
    String requestId = UUID.randomUUID().toString().substring(0, 13);
    long start = System.nanoTime();
    String[] target = {""};
    ServerCall<Q, R> wrapped = new SimpleForwardingServerCall<>(call) {
      @Override
      public void close(Status status, Metadata trailers) {
        long ms = (System.nanoTime() - start) / 1_000_000;
        audit.atInfo().addKeyValue("user", who == null ? "" : who.name())
            .addKeyValue("action", method).addKeyValue("target", target[0])
            .addKeyValue("result", status.getCode().name()).addKeyValue("duration_ms", ms)
            .addKeyValue("request_id", requestId)
            .log("{} {} {}: {}", who == null ? "-" : who.name(), method, target[0],
                status.isOk() ? "OK" : status.getCode() + " "
                    + GrpcStatusMapper.bounded(status.getDescription()));
        super.close(status, trailers);
      }
    };
    ServerCall.Listener<Q> listener = next.startCall(wrapped, headers);
    return new SimpleForwardingServerCallListener<>(listener) {
      @Override
      public void onMessage(Q message) {
        if (target[0].isEmpty() && message instanceof Message m) {
          target[0] = targetOf(m);
        }
        withMdc(() -> super.onMessage(message));
      }

      @Override
      public void onHalfClose() {
        withMdc(super::onHalfClose);
      }

      private void withMdc(Runnable r) {
        MDC.put("request_id", requestId);
        if (who != null) {
          MDC.put("user", who.name());
        }
        try {
          r.run();
        } finally {
          MDC.remove("request_id");
          MDC.remove("user");
        }
      }
    };
  }

  static String targetOf(Message m) {
    for (FieldDescriptor f : m.getDescriptorForType().getFields()) {
      if (f.getType() == FieldDescriptor.Type.MESSAGE && !f.isRepeated() && m.hasField(f)) {
        String inner = targetOf((Message) m.getField(f));
        if (!inner.isEmpty()) {
          return inner;
        }
      }
    }
    for (String name : TARGET_FIELDS) {
      FieldDescriptor f = m.getDescriptorForType().findFieldByName(name);
      if (f != null && f.getType() == FieldDescriptor.Type.STRING && !((String) m.getField(f)).isEmpty()) {
        String t = (String) m.getField(f);
        return t.length() <= MAX_TARGET ? t : t.substring(0, MAX_TARGET) + "...";
      }
    }
    return "";
  }
}
