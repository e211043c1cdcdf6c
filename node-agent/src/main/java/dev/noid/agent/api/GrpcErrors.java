package dev.noid.agent.api;

import dev.noid.agent.vm.AgentException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The one table from agent failures to gRPC status: clients never see UNKNOWN for a known one. */
public final class GrpcErrors {
  private static final Logger log = LoggerFactory.getLogger(GrpcErrors.class);

  private GrpcErrors() {}

  public static StatusRuntimeException toStatus(Throwable t) {
    if (t instanceof StatusRuntimeException sre) {
      return sre;
    }
    if (t instanceof AgentException e) {
      Status status = switch (e.code()) {
        case INVALID_ARGUMENT -> Status.INVALID_ARGUMENT;
        case NOT_FOUND -> Status.NOT_FOUND;
        case ALREADY_EXISTS -> Status.ALREADY_EXISTS;
        case WRONG_STATE -> Status.FAILED_PRECONDITION;
        case NO_CAPACITY, DISK_FULL -> Status.RESOURCE_EXHAUSTED;
        case CORRUPT -> Status.DATA_LOSS;
        case TIMEOUT -> Status.DEADLINE_EXCEEDED;
        case HYPERVISOR_FAILED -> Status.UNAVAILABLE;
        case INTERNAL -> Status.INTERNAL;
      };
      return status.withDescription(e.getMessage()).asRuntimeException();
    }
    log.error("unexpected failure", t);
    return Status.INTERNAL.withDescription("internal error: " + t).withCause(t).asRuntimeException();
  }
}
