package dev.noid.agent.vm;

/**
 * A failure of an agent operation, with the code that decides the status clients see. The
 * domain throws only this (it knows nothing of gRPC); {@link dev.noid.agent.api.GrpcErrors} is
 * the one place that turns it into a gRPC status, following the agent-to-controller error
 * contract in docs/architecture.md.
 */
public final class AgentException extends RuntimeException {
  /** One code per kind of failure, named for what went wrong rather than for a wire status. */
  public enum Code {
    /** A request or spec field is wrong; the message names the field and the limit. */
    INVALID_ARGUMENT,
    /** No such VM or checkpoint on this node. */
    NOT_FOUND,
    ALREADY_EXISTS,
    /**
     * Another operation holds what this one needs (an import of the same checkpoint is being
     * written): nothing was done, and the same request may succeed once that one ends.
     */
    BUSY,
    /** The VM's state does not allow the operation (see {@link VmState}). */
    WRONG_STATE,
    /** The node has not the memory (or vCPUs per VM) the request needs. */
    NO_CAPACITY,
    DISK_FULL,
    /** Data that does not match its checksum or declared size. */
    CORRUPT,
    /**
     * The hypervisor or what runs in it failed: the VMM crashed, exited, refused, stopped
     * answering, or its guest never became ready. Never "node unreachable": the node answered.
     */
    HYPERVISOR_FAILED,
    /** The caller may not do this: a grant that does not hold (see GrantVerifier). */
    PERMISSION_DENIED,
    /**
     * Cut off part way (a transfer whose link to the other node broke): what was verified is
     * kept, and the same request, asked again, carries on from there.
     */
    INTERRUPTED,
    /**
     * The other node does not know the call (an agent from before it, during a rolling
     * upgrade): the caller may take another route.
     */
    PEER_UNSUPPORTED,
    /** This node cannot do it at all (live migration under a hypervisor without it). */
    UNIMPLEMENTED,
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
