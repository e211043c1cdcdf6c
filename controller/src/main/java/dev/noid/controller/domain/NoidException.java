package dev.noid.controller.domain;

/**
 * Every failure of a controller operation that a client should understand. The code decides
 * the gRPC status in exactly one place ({@link dev.noid.controller.api.GrpcStatusMapper}).
 */
public final class NoidException extends RuntimeException {
  public enum Code {
    INVALID_ARGUMENT,
    NOT_FOUND,
    ALREADY_EXISTS,
    WRONG_STATE,
    NO_CAPACITY,
    UNAUTHENTICATED,
    PERMISSION_DENIED,
    TOO_MANY_ATTEMPTS,
    NODE_UNAVAILABLE,
    TIMEOUT,
    STORE_UNAVAILABLE,
    INTERNAL
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
}
