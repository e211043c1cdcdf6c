package dev.noid.controller.domain;

/**
 * Every failure of a controller operation that a client should understand. The code decides
 * the gRPC status in exactly one place ({@link dev.noid.controller.api.GrpcStatusMapper}); an
 * agent's status becomes one in exactly one place too (the agent adapter's {@code AgentStatus}).
 */
public final class NoidException extends RuntimeException {
  public enum Code {
    INVALID_ARGUMENT,
    NOT_FOUND,
    ALREADY_EXISTS,
    WRONG_STATE,
    /** Another operation holds what this one needs; nothing was done, and a retry may succeed. */
    CONFLICT,
    NO_CAPACITY,
    UNAUTHENTICATED,
    PERMISSION_DENIED,
    TOO_MANY_ATTEMPTS,
    /** The node could not be reached (transport): nothing was done there. */
    NODE_UNAVAILABLE,
    /** The node's hypervisor failed the operation (VMM crashed, guest never ready). */
    HYPERVISOR_FAILED,
    /** The node cannot do this at all (its hypervisor lacks the feature); asking again won't help. */
    UNSUPPORTED,
    TIMEOUT,
    STORE_UNAVAILABLE,
    INTERNAL,
    /** A per-user limit on concurrent calls (streams) is reached; the message names it. */
    LIMIT_EXCEEDED,
    /** A per-user quota would be exceeded; the message names the quota and its limit. */
    QUOTA_EXCEEDED
  }

  private final Code code;

  public NoidException(Code code, String message) {
    super(message);
    this.code = code;
  }

  public NoidException(Code code, String message, Throwable cause) {
    super(message, cause);
    this.code = code;
  }

  public Code code() {
    return code;
  }

  public static NoidException invalid(String message) {
    return new NoidException(Code.INVALID_ARGUMENT, message);
  }

  public static NoidException notFound(String message) {
    return new NoidException(Code.NOT_FOUND, message);
  }

  /**
   * Whether a create its node refused may go to another node: that node made nothing of it
   * because it could not be reached, or had no room the controller could not see (memory the
   * agent holds for itself). A hypervisor failure is not retried elsewhere: it says nothing
   * about the node, and the VM's status says what went wrong.
   */
  public boolean retryableElsewhere() {
    return code == Code.NODE_UNAVAILABLE || code == Code.NO_CAPACITY;
  }
}
