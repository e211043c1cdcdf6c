package dev.noid.common.grpc;

import io.grpc.Metadata;

/**
 * How agents fence controllers that lost the lead: every controller call to an agent carries
 * the epoch its controller leads at, and an agent refuses a call from an epoch older than the
 * newest it has heard of, naming that epoch in a trailer so that the controller can tell
 * (design: docs/decisions.md, "Agents fence deposed leaders").
 */
public final class ControllerEpochHeaders {
  /** The calling controller's epoch, in decimal; none means epoch 0 (a controller alone). */
  public static final Metadata.Key<String> EPOCH =
      Metadata.Key.of("noid-controller-epoch", Metadata.ASCII_STRING_MARSHALLER);

  /** On a refusal: the newest epoch the agent has heard of, in decimal. */
  public static final Metadata.Key<String> NEWEST =
      Metadata.Key.of("noid-controller-epoch-newest", Metadata.ASCII_STRING_MARSHALLER);

  private ControllerEpochHeaders() {}
}
