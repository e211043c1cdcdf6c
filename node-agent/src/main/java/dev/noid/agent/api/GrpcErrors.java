package dev.noid.agent.api;

import dev.noid.agent.vm.AgentException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one table from agent failures to gRPC status: clients never see UNKNOWN for a known one.
 * It follows the agent-to-controller contract: a hypervisor failure is INTERNAL with a
 * description starting {@value #HYPERVISOR_PREFIX}, never UNAVAILABLE or DEADLINE_EXCEEDED,
 * which the controller reads as "node unreachable" and retries elsewhere.
 */
public final class GrpcErrors {
  /** What a hypervisor failure's description starts with; the controller relies on it. */
  public static final String HYPERVISOR_PREFIX = "hypervisor: ";
  /** What a cut transfer's description starts with: the controller asks again, then reports
   * the source as unreachable from this node. */
  public static final String INTERRUPTED_PREFIX = "interrupted: ";

  private static final Logger log = LoggerFactory.getLogger(GrpcErrors.class);

  private GrpcErrors() {}

  public static StatusRuntimeException toStatus(Throwable t) {
    if (t instanceof StatusRuntimeException sre) {
      return sre;
    }
    if (t instanceof AgentException e) {
      return status(e).asRuntimeException();
    }
    if (t instanceof dev.noid.agent.archive.ArchiveUnavailable e) {
      // Not UNAVAILABLE: to the controller that means this node cannot be reached.
      return Status.FAILED_PRECONDITION.withDescription(e.getMessage()).asRuntimeException();
    }
    log.error("unexpected failure", t);
    return Status.INTERNAL.withDescription("internal error: " + t).withCause(t).asRuntimeException();
  }

  static Status status(AgentException e) {
    String message = e.getMessage();
    return switch (e.code()) {
      case INVALID_ARGUMENT -> Status.INVALID_ARGUMENT.withDescription(message);
      case NOT_FOUND -> Status.NOT_FOUND.withDescription(message);
      case ALREADY_EXISTS -> Status.ALREADY_EXISTS.withDescription(message);
      case BUSY -> Status.ABORTED.withDescription(message);
      case WRONG_STATE -> Status.FAILED_PRECONDITION.withDescription(message);
      case NO_CAPACITY, DISK_FULL -> Status.RESOURCE_EXHAUSTED.withDescription(message);
      case CORRUPT -> Status.DATA_LOSS.withDescription(message);
      case HYPERVISOR_FAILED -> Status.INTERNAL.withDescription(HYPERVISOR_PREFIX + message);
      case PERMISSION_DENIED -> Status.PERMISSION_DENIED.withDescription(message);
      // Not UNAVAILABLE: to the controller that means this node, not its peer, is unreachable.
      case INTERRUPTED -> Status.ABORTED.withDescription(INTERRUPTED_PREFIX + message);
      // What this node's caller falls back on (the controller relays the copy itself).
      case PEER_UNSUPPORTED, UNIMPLEMENTED -> Status.UNIMPLEMENTED.withDescription(message);
      case INTERNAL -> Status.INTERNAL.withDescription(message);
    };
  }
}
