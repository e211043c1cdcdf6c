package dev.noid.controller.api;

import dev.noid.controller.domain.NoidException;
import dev.noid.controller.store.StoreException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The one table from domain failures to gRPC status: clients never see UNKNOWN for a known one. */
public final class GrpcStatusMapper {
  private static final Logger log = LoggerFactory.getLogger(GrpcStatusMapper.class);

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
        case NO_CAPACITY, TOO_MANY_ATTEMPTS -> Status.RESOURCE_EXHAUSTED;
        case UNAUTHENTICATED -> Status.UNAUTHENTICATED;
        case PERMISSION_DENIED -> Status.PERMISSION_DENIED;
        case NODE_UNAVAILABLE, STORE_UNAVAILABLE -> Status.UNAVAILABLE;
        case TIMEOUT -> Status.DEADLINE_EXCEEDED;
        // The node was reached and the VMM failed there: retrying the same call elsewhere is
        // the caller's choice, not a transport problem (docs/decisions.md).
        case HYPERVISOR_FAILED, INTERNAL -> Status.INTERNAL;
      };
      return s.withDescription(e.getMessage()).asRuntimeException();
    }
    if (t instanceof StoreException e) {
      return Status.UNAVAILABLE.withDescription(e.getMessage()).asRuntimeException();
    }
    log.error("unexpected failure", t);
    return Status.INTERNAL.withDescription("internal error: " + t).asRuntimeException();
  }
}
