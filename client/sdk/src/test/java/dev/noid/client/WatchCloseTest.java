package dev.noid.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.noid.api.v1.Vm;
import dev.noid.common.tls.Certificates;
import dev.noid.common.tls.KeyAndCertificate;
import dev.noid.common.tls.Pem;
import io.grpc.ChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.TlsChannelCredentials;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Closing the client ends its watches: their listeners hear it (a program waiting for onEnd
 * used to wait for good), and on a shared channel the streams stop (they ran on).
 */
class WatchCloseTest {
  private static final KeyAndCertificate CA = Certificates.newCertificateAuthority("test CA");
  private FakeController controller;
  private ManagedChannel channel;

  @BeforeEach
  void start() throws Exception {
    controller = new FakeController("a",
        Certificates.newServerCertificate(CA, "controller", List.of()));
    ChannelCredentials tls = TlsChannelCredentials.newBuilder().trustManager(
        new ByteArrayInputStream(Pem.encode(CA.certificate()).getBytes(StandardCharsets.US_ASCII)))
        .build();
    channel = TargetChannels.build("localhost:" + controller.port(), tls, 4);
  }

  @AfterEach
  void stop() {
    channel.shutdownNow();
    controller.close();
  }

  /** A listener that records the sync and the end. */
  private static final class Listener implements WatchListener<Vm> {
    final CountDownLatch synced = new CountDownLatch(1);
    final CompletableFuture<Optional<NoidException>> ended = new CompletableFuture<>();

    @Override
    public void onEvent(WatchEvent<Vm> e) {
      if (e.type() == WatchEvent.Type.SYNCED) {
        synced.countDown();
      }
    }

    @Override
    public void onEnd(NoidException error) {
      ended.complete(Optional.ofNullable(error));
    }
  }

  private static Listener syncedWatch(NoidClient client) throws InterruptedException {
    Listener listener = new Listener();
    client.watchVms(Map.of(), listener);
    assertThat(listener.synced.await(10, TimeUnit.SECONDS)).isTrue();
    return listener;
  }

  @Test
  void closingTheClientEndsItsWatch() throws Exception {
    NoidClient client = NoidClient.builder().token("t").channel(channel).build();
    Listener listener = syncedWatch(client);

    client.close();

    assertThat(listener.ended.get(10, TimeUnit.SECONDS)).isEmpty();
  }

  @Test
  void closingAClientOfASharedChannelEndsItsWatchStream() throws Exception {
    NoidClient client = NoidClient.builder().token("t").sharedChannel(channel).build();
    Listener listener = syncedWatch(client);

    client.close();

    assertThat(listener.ended.get(10, TimeUnit.SECONDS)).isEmpty();
    await().atMost(Duration.ofSeconds(10)).until(() -> controller.watchesCancelled.get() == 1);
  }

  /**
   * A listener still busy with an event (blocked on the program's queue, or calling back into
   * the client) does not hold close() up: close used to wait on the watch's lock it held. Its
   * onEnd comes after that event, from the delivering thread.
   */
  @Test
  void closingTheClientDoesNotWaitForABusyListener() throws Exception {
    NoidClient client = NoidClient.builder().token("t").channel(channel).build();
    CountDownLatch inEvent = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    CompletableFuture<Optional<NoidException>> ended = new CompletableFuture<>();
    client.watchVms(Map.of(), new WatchListener<>() {
      @Override
      public void onEvent(WatchEvent<Vm> e) {
        inEvent.countDown();
        try {
          release.await(20, TimeUnit.SECONDS);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
        }
      }

      @Override
      public void onEnd(NoidException error) {
        ended.complete(Optional.ofNullable(error));
      }
    });
    assertThat(inEvent.await(10, TimeUnit.SECONDS)).isTrue();
    try {
      CompletableFuture.runAsync(client::close).get(10, TimeUnit.SECONDS);

      // ... and the end still comes last, once the event in hand is done.
      assertThat(ended).as("onEnd while onEvent runs").isNotDone();
      release.countDown();
      assertThat(ended.get(10, TimeUnit.SECONDS)).isEmpty();
    } finally {
      release.countDown();
    }
  }
}
