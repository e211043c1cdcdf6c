package dev.noid.controller.api;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.controller.MutableClock;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.store.SqliteStore;
import dev.noid.controller.store.Store;
import dev.noid.controller.users.LoginLimiter;
import dev.noid.controller.users.Principal;
import dev.noid.controller.users.UserDirectory;
import io.grpc.Context;
import io.grpc.Status;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Ending streams: one user's on revocation, everyone's when a follower loses the store. */
class OpenStreamsTest {
  @TempDir Path dir;
  @Test
  void endAllEndsEveryUsersStreamsAndFreesTheirSlots() {
    OpenStreams streams = new OpenStreams();
    List<String> ended = new ArrayList<>();
    streams.open("alice", OpenStreams.Kind.WATCH, s -> ended.add("alice " + s.getCode()));
    streams.open("bob", OpenStreams.Kind.WATCH, s -> ended.add("bob " + s.getCode()));

    streams.endAll(Status.UNAVAILABLE.withDescription("store lost"));

    assertThat(ended).containsExactlyInAnyOrder("alice UNAVAILABLE", "bob UNAVAILABLE");
    assertThat(streams.count("alice", OpenStreams.Kind.WATCH)).isZero();
    assertThat(streams.count("bob", OpenStreams.Kind.WATCH)).isZero();
  }

  @Test
  void revokeEndsOnlyThatUsersStreams() {
    OpenStreams streams = new OpenStreams();
    List<String> ended = new ArrayList<>();
    streams.open("alice", OpenStreams.Kind.WATCH, s -> ended.add("alice"));
    streams.open("bob", OpenStreams.Kind.EXEC, s -> ended.add("bob"));

    streams.revoke("alice", "rotated");

    assertThat(ended).containsExactly("alice");
    assertThat(streams.count("bob", OpenStreams.Kind.EXEC)).isEqualTo(1);
  }

  /**
   * The token is rotated after the call's last check and before its stream registers: the
   * rotation's revoke finds nothing to end, so the registration itself must see it.
   */
  @Test
  void aStreamWhoseTokenWasRotatedJustBeforeItRegistersIsRefused() throws Exception {
    MutableClock clock = new MutableClock(Instant.parse("2026-05-01T10:00:00Z"));
    try (Store store = SqliteStore.open(dir.resolve("noid.db"))) {
      UserDirectory users = new UserDirectory(store,
          new LoginLimiter(10, Duration.ofSeconds(60), clock), clock);
      String token = users.add("alice", "user").token();
      long checkedAt = users.revocations();
      Principal alice = users.authenticate(token, "192.0.2.10");
      OpenStreams streams = new OpenStreams();
      users.onRevocation(streams::revoke);
      users.rotate("alice"); // between the call's check and its registration

      Context call = Context.current().withValue(AuthInterceptor.TOKEN_CHECK,
          new TokenCheck(users, token, alice, checkedAt));
      NoidException refused = null;
      try {
        call.call(() -> streams.open("alice", OpenStreams.Kind.WATCH, s -> { }));
      } catch (NoidException e) {
        refused = e;
      }

      assertThat(refused).isNotNull();
      assertThat(refused.code()).isEqualTo(NoidException.Code.UNAUTHENTICATED);
      assertThat(streams.count("alice", OpenStreams.Kind.WATCH)).isZero();
    }
  }
}
