package dev.noid.client;

import java.util.List;
import java.util.Map;

/**
 * gRPC service config that retries idempotent calls on UNAVAILABLE with exponential backoff.
 * Creates, restores, checkpoints and execs are left out: repeating them could do the work twice.
 */
final class RetryPolicy {
  static final List<String> IDEMPOTENT = List.of(
      "GetVm", "ListVms", "StopVm", "StartVm", "PauseVm", "ResumeVm", "DestroyVm",
      "ListCheckpoints", "DeleteCheckpoint");

  private RetryPolicy() {}

  static Map<String, ?> serviceConfig(int maxAttempts) {
    List<Map<String, String>> names = new java.util.ArrayList<>();
    for (String m : IDEMPOTENT) {
      names.add(Map.of("service", "noid.v1.VmService", "method", m));
    }
    names.add(Map.of("service", "noid.v1.NodeService", "method", "ListNodes"));
    names.add(Map.of("service", "noid.v1.NodeService", "method", "GetNode"));
    names.add(Map.of("service", "noid.v1.UserService", "method", "WhoAmI"));
    names.add(Map.of("service", "noid.v1.UserService", "method", "ListUsers"));
    Map<String, Object> retry = Map.of(
        "maxAttempts", (double) maxAttempts,
        "initialBackoff", "0.2s",
        "maxBackoff", "5s",
        "backoffMultiplier", 2.0,
        "retryableStatusCodes", List.of("UNAVAILABLE"));
    return Map.of("methodConfig", List.of(Map.of("name", names, "retryPolicy", retry)));
  }
}
