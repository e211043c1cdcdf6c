package dev.noid.client;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.ManagedChannel;
import org.junit.jupiter.api.Test;

/** A shared channel outlives the clients that use it; an owned one closes with its client. */
class SharedChannelTest {
  @Test
  void closingAClientLeavesASharedChannelOpen() {
    ManagedChannel ch = NoidClient.newChannel("localhost:7655", null, 2);
    try {
      NoidClient.builder().sharedChannel(ch).token("t").build().close();
      NoidClient.builder().sharedChannel(ch).token("u").build().close();
      assertThat(ch.isShutdown()).isFalse();
    } finally {
      ch.shutdownNow();
    }
  }

  @Test
  void closingAClientClosesAChannelItWasGiven() {
    ManagedChannel ch = NoidClient.newChannel("localhost:7655", null, 2);
    NoidClient.builder().channel(ch).token("t").build().close();
    assertThat(ch.isShutdown()).isTrue();
  }

  @Test
  void oneAttemptMeansNoRetryPolicyRatherThanAnInvalidOne() {
    ManagedChannel ch = NoidClient.newChannel("localhost:7655", null, 1);
    assertThat(ch.isShutdown()).isFalse();
    ch.shutdownNow();
  }
}
