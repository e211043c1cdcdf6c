package dev.noid.controller.api;

import dev.noid.controller.domain.NoidException;
import dev.noid.controller.store.StoreException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one table from domain failures to gRPC status: clients never see UNKNOWN for a known one.
 * A failure the client can do nothing about (a bug, a broken store) shows only an error id;
 * its text, which may hold SQL, host paths or a stack's worth of detail, goes to the log under
 * that id (docs/security.md, "Errors").
 */
public final class GrpcStatusMapper {
  private static final Logger log = LoggerFactory.getLogger(GrpcStatusMapper.class);
  static final int MAX_DESCRIPTION = 1024;

  private GrpcStatusMapper() {}

  public static StatusRuntimeException toStatus(Throwable t) {
    if (t instanceof StatusRuntimeException sre) {
      return sre;
    }
    if (t instanceof NoidException e) {
      Status s = switch (e.code()) {
        case INVALID_ARGUMENT -> Status.INVALID_ARGUMENT;
        case NOT_FOUND -> Status.NOT_FOUND;
        case ALREADY_EXISTS -> Status.ALREADY_EXISTS;
        case WRONG_STATE -> Status.FAILED_PRECONDITION;
        case CONFLICT -> Status.ABORTED;
        case NO_CAPACITY, TOO_MANY_ATTEMPTS -> Status.RESOURCE_EXHAUSTED;
        case UNAUTHENTICATED -> Status.UNAUTHENTICATED;
        case PERMISSION_DENIED -> Status.PERMISSION_DENIED;
        case NODE_UNAVAILABLE, STORE_UNAVAILABLE -> Status.UNAVAILABLE;
        case TIMEOUT -> Status.DEADLINE_EXCEEDED;
        case QUOTA_EXCEEDED, LIMIT_EXCEEDED -> Status.RESOURCE_EXHAUSTED;
        // The node was reached and the VMM failed there: retrying the same call elsewhere is
        // the caller's choice, not a transport problem (docs/decisions.md).
        case HYPERVISOR_FAILED -> Status.INTERNAL;
        case UNSUPPORTED -> Status.UNIMPLEMENTED;
        // Its message may carry a cause's text: the client gets an id, the log the rest.
        case INTERNAL -> null;
      };
      if (s != null) {
        return s.withDescription(bounded(e.getMessage())).asRuntimeException();
      }
    }
    if (t instanceof dev.noid.controller.store.FencedException) {
      // Says which controller leads now, and nothing about the store's internals.
      return Status.UNAVAILABLE.withDescription(t.getMessage()).asRuntimeException();
    }
    if (t instanceof StoreException) {
      return hidden(Status.UNAVAILABLE, "store unavailable", t);
    }
    return hidden(Status.INTERNAL, "internal error", t);
  }

  /**
   * A message cut to {@link #MAX_DESCRIPTION} characters. Messages quote what the caller sent (a
   * name not found, say), and the description travels in a trailer, which a client refuses past
   * 8 KiB, and in the audit log, one line per call.
   */
  public static String bounded(String message) {
    if (message == null || message.length() <= MAX_DESCRIPTION) {
      return message;
    }
    return message.substring(0, MAX_DESCRIPTION) + "... (" + (message.length() - MAX_DESCRIPTION)
        + " more characters)";
  }

  private static StatusRuntimeException hidden(Status status, String what, Throwable t) {
    String id = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong()).substring(0, 12);
    log.error("{} (id {})", what, id, t);
    return status.withDescription(what + " (id " + id + ")").asRuntimeException();
  }
}
