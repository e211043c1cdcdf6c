package dev.noid.controller.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Ending streams: one user's on revocation, everyone's when a follower loses the store. */
class OpenStreamsTest {
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
}
