package dev.noid.client;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * gRPC service config that retries idempotent calls on UNAVAILABLE with exponential backoff.
 * Restores, checkpoints and execs are left out: repeating them could do the work twice. CreateVm
 * is in because the SDK gives every create a request id, which the controller deduplicates.
 * DestroyVm is out: it names the VM, and a leader that went away as it committed one leaves a
 * repeat to destroy whatever VM of that name was made meanwhile. (A call that never left the
 * client is still sent again: gRPC's transparent retry does that for any method.)
 */
final class RetryPolicy {
  static final List<String> IDEMPOTENT = List.of(
      "GetVm", "ListVms", "StopVm", "StartVm", "PauseVm", "ResumeVm",
      "ListCheckpoints", "DeleteCheckpoint", "CreateVm");

  private RetryPolicy() {}

  static Map<String, ?> serviceConfig(int maxAttempts) {
    return Map.of("methodConfig", methodConfigs(maxAttempts));
  }

  /** The methodConfig entries. One attempt means none: gRPC refuses a policy of one attempt. */
  static List<Map<String, ?>> methodConfigs(int maxAttempts) {
    List<Map<String, ?>> out = new ArrayList<>();
    if (maxAttempts > 1) {
      out.add(Map.of("name", retried(), "retryPolicy", Map.of(
          "maxAttempts", (double) maxAttempts,
          "initialBackoff", "0.2s",
          "maxBackoff", "5s",
          "backoffMultiplier", 2.0,
          "retryableStatusCodes", List.of("UNAVAILABLE"))));
    }
    return out;
  }

  private static List<Map<String, String>> retried() {
    List<Map<String, String>> names = new ArrayList<>();
    for (String m : IDEMPOTENT) {
      names.add(Map.of("service", "noid.v1.VmService", "method", m));
    }
    names.add(Map.of("service", "noid.v1.NodeService", "method", "ListNodes"));
    names.add(Map.of("service", "noid.v1.NodeService", "method", "GetNode"));
    names.add(Map.of("service", "noid.v1.UserService", "method", "WhoAmI"));
    names.add(Map.of("service", "noid.v1.UserService", "method", "ListUsers"));
    names.add(Map.of("service", "noid.v1.UserService", "method", "GetQuota"));
    names.add(Map.of("service", "noid.v1.ImageService", "method", "ListImages"));
    names.add(Map.of("service", "noid.v1.ImageService", "method", "GetImage"));
    return names;
  }
}
