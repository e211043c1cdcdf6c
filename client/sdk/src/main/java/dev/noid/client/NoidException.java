package dev.noid.client;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/**
 * A failed Noid call: the gRPC status code and the server's message, which names what was
 * wrong (the field and its limit, the VM's state, the node that could not be reached).
 */
public class NoidException extends RuntimeException {
  private final Status.Code code;

  public NoidException(Status.Code code, String message, Throwable cause) {
    super(message, cause);
    this.code = code;
  }

  /** The gRPC status code, e.g. NOT_FOUND or RESOURCE_EXHAUSTED. */
  public Status.Code code() {
    return code;
  }

  /** Converts a gRPC failure into the matching typed exception. */
  public static NoidException from(Throwable t) {
    if (t instanceof NoidException n) {
      return n;
    }
    Status s = Status.fromThrowable(t);
    String message = s.getDescription() != null ? s.getDescription() : s.getCode().name();
    return switch (s.getCode()) {
      case NOT_FOUND -> new NotFoundException(message, t);
      case UNAUTHENTICATED, PERMISSION_DENIED -> new AuthException(s.getCode(), message, t);
      case UNAVAILABLE, DEADLINE_EXCEEDED -> new UnavailableException(s.getCode(), message, t);
      case INVALID_ARGUMENT, FAILED_PRECONDITION, ALREADY_EXISTS, OUT_OF_RANGE ->
          new InvalidRequestException(s.getCode(), message, t);
      default -> new NoidException(s.getCode(), message, t);
    };
  }

  static boolean isGrpc(Throwable t) {
    return t instanceof StatusRuntimeException || t instanceof io.grpc.StatusException;
  }

  /** The VM, checkpoint, node or user does not exist (or is not yours). */
  public static final class NotFoundException extends NoidException {
    public NotFoundException(String message, Throwable cause) {
      super(Status.Code.NOT_FOUND, message, cause);
    }
  }

  /** The token is missing, wrong or lacks the role the call needs. */
  public static final class AuthException extends NoidException {
    public AuthException(Status.Code code, String message, Throwable cause) {
      super(code, message, cause);
    }
  }

  /** The controller or the VM's node could not be reached in time. */
  public static final class UnavailableException extends NoidException {
    public UnavailableException(Status.Code code, String message, Throwable cause) {
      super(code, message, cause);
    }
  }

  /** The request was refused as it stands: bad input, wrong state, or a name already taken. */
  public static final class InvalidRequestException extends NoidException {
    public InvalidRequestException(Status.Code code, String message, Throwable cause) {
      super(code, message, cause);
    }
  }
}
