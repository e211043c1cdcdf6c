package dev.noid.controller.users;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.api.v1.WatchVmsRequest;
import dev.noid.api.v1.WatchVmsResponse;
import dev.noid.controller.testing.ControllerProcess;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code noid-controller users rotate} on the controller's host writes the store, not the
 * running controller, which ended a user's streams only when it rotated the token itself: a
 * watch opened with a leaked token outlived the rotation meant to stop it.
 */
class HostTokenRotationIT {
  @TempDir Path dir;

  @Test
  void aTokenRotatedByTheHostCommandEndsTheWatchItOpened() throws Exception {
    try (ControllerProcess controller = new ControllerProcess(dir.resolve("data"), dir).start()) {
      String token = controller.admin("users", "add", "bob");
      Iterator<WatchVmsResponse> watch = VmServiceGrpc.newBlockingStub(controller.channel())
          .withCallCredentials(ControllerProcess.bearer(token))
          .withDeadlineAfter(60, TimeUnit.SECONDS)
          .watchVms(WatchVmsRequest.getDefaultInstance());
      assertThat(watch.next().getType()).as("an empty snapshot: SYNCED at once")
          .isEqualTo(WatchVmsResponse.EventType.EVENT_TYPE_SYNCED);

      String rotated = controller.admin("users", "rotate", "bob");

      StatusRuntimeException ended = catchThrowableOfType(StatusRuntimeException.class,
          watch::hasNext);
      assertThat(rotated).startsWith("noid_tok_").isNotEqualTo(token);
      assertThat(ended).as("the watch ended").isNotNull();
      assertThat(ended.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
      assertThat(ended.getStatus().getDescription()).contains("'bob' was rotated or revoked");
    }
  }
}
