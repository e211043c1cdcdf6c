package dev.noid.controller.agents.grpc;

import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.NoidException.Code;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/**
 * The one translation from an agent's gRPC status to the domain's error (the agent's side of
 * the contract is in docs/decisions.md): UNAVAILABLE and DEADLINE_EXCEEDED only ever mean the
 * node could not be reached or did not answer; a hypervisor failure comes as INTERNAL with a
 * description starting "hypervisor: ".
 */
final class AgentStatus {
  static final String HYPERVISOR_PREFIX = "hypervisor: ";
  /** A node's transfer from another node was cut: that other node could not be reached. */
  static final String INTERRUPTED_PREFIX = "interrupted: ";

  private AgentStatus() {}

  static NoidException toDomain(String node, StatusRuntimeException e) {
    return toDomain(node, e.getStatus());
  }

  static NoidException toDomain(String node, Status s) {
    String what = s.getDescription() != null ? s.getDescription() : s.getCode().name();
    return switch (s.getCode()) {
      case INVALID_ARGUMENT -> new NoidException(Code.INVALID_ARGUMENT, what);
      case NOT_FOUND -> new NoidException(Code.NOT_FOUND, what);
      case ALREADY_EXISTS -> new NoidException(Code.ALREADY_EXISTS, what);
      case ABORTED -> what.startsWith(INTERRUPTED_PREFIX)
          ? new NoidException(Code.NODE_UNAVAILABLE, "node " + node + ": " + what)
          : new NoidException(Code.CONFLICT, "node " + node + ": " + what);
      case FAILED_PRECONDITION -> new NoidException(Code.WRONG_STATE, what);
      case RESOURCE_EXHAUSTED -> new NoidException(Code.NO_CAPACITY, "node " + node + ": " + what);
      case DEADLINE_EXCEEDED -> new NoidException(Code.TIMEOUT, "node " + node + " did not answer in time: " + what);
      case UNAVAILABLE -> new NoidException(Code.NODE_UNAVAILABLE, "node " + node + " unavailable: " + what);
      case UNIMPLEMENTED -> new NoidException(Code.UNSUPPORTED, "node " + node + ": " + what);
      case INTERNAL -> what.startsWith(HYPERVISOR_PREFIX)
          ? new NoidException(Code.HYPERVISOR_FAILED, "node " + node + ": " + what)
          : new NoidException(Code.INTERNAL, "node " + node + ": INTERNAL: " + what);
      default -> new NoidException(Code.INTERNAL, "node " + node + ": " + s.getCode() + ": " + what);
    };
  }

  /** Any failure of a call to {@code node}: a status when it has one, else an internal error. */
  static NoidException toDomain(String node, RuntimeException e) {
    if (e instanceof NoidException ne) {
      return ne;
    }
    if (e instanceof StatusRuntimeException sre) {
      return toDomain(node, sre);
    }
    return new NoidException(Code.INTERNAL, "node " + node + ": " + e.getMessage(), e);
  }
}
