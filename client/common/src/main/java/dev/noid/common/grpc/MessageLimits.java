package dev.noid.common.grpc;

/**
 * The largest message each gRPC endpoint takes in, set explicitly on every server and channel
 * (issue 19 H2) rather than left to the library's default, so that the bound is a decision
 * written down, and so that the sizes that must fit under it are checked against it (agent
 * batches, heartbeats).
 */
public final class MessageLimits {
  /**
   * The controller's public listener: users' calls and nodes' heartbeats. A heartbeat carries
   * one short report per VM (no labels), a ListVms page at most 1,000 VMs.
   */
  public static final int CONTROLLER_INBOUND_BYTES = 16 << 20;

  /**
   * An agent's server, and the controller's channels to agents: batches of creates (at most
   * {@link #AGENT_BATCH_BYTES} of specs), their answers, and checkpoint chunks of 1 MiB.
   */
  public static final int AGENT_INBOUND_BYTES = 4 << 20;

  /**
   * The serialized specs one batch of creates carries at most, well under
   * {@link #AGENT_INBOUND_BYTES} so that the batch and its answer (the same specs, plus each
   * VM's state) fit with room to spare. A single spec larger than this still goes, alone.
   */
  public static final int AGENT_BATCH_BYTES = 1 << 20;

  /** The longest free-text reason an agent reports for a VM in a heartbeat. */
  public static final int MAX_REASON_CHARS = 1_024;

  private MessageLimits() {}
}
