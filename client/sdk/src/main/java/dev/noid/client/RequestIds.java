package dev.noid.client;

import dev.noid.api.v1.CreateVmRequest;
import java.util.UUID;

/**
 * Gives a create a request id when it has none, so that a retry (by gRPC's retry policy, or
 * after a controller failover) is recognised by the controller instead of creating twice.
 */
final class RequestIds {
  private RequestIds() {}

  static CreateVmRequest ensure(CreateVmRequest request) {
    if (!request.getRequestId().isEmpty()) {
      return request;
    }
    return request.toBuilder().setRequestId(UUID.randomUUID().toString()).build();
  }
}
