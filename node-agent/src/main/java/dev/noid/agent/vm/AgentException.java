package dev.noid.agent.vm;

/** A failure of an agent operation, with the code that decides the gRPC status clients see. */
public final class AgentException extends RuntimeException {
  /** One code per kind of failure; {@link dev.noid.agent.api.GrpcErrors} maps them to gRPC. */
  public enum Code {
    INVALID_ARGUMENT,
    NOT_FOUND,
    ALREADY_EXISTS,
    WRONG_STATE,
    NO_CAPACITY,
    DISK_FULL,
    /** Data that does not match its checksum or declared size. */
    CORRUPT,
    TIMEOUT,
    HYPERVISOR_FAILED,
    INTERNAL
  }

  private final Code code;

  public AgentException(Code code, String message) {
    super(message);
    this.code = code;
  }

  public AgentException(Code code, String message, Throwable cause) {
    super(message, cause);
    this.code = code;
  }

  public Code code() {
    return code;
  }
}
