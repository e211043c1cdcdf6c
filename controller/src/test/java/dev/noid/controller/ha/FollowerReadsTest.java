package dev.noid.controller.ha;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.api.v1.WatchVmsRequest;
import dev.noid.api.v1.WatchVmsResponse;
import dev.noid.controller.MutableClock;
import dev.noid.controller.store.SqliteStore;
import dev.noid.controller.store.Store;
import dev.noid.controller.users.LoginLimiter;
import dev.noid.controller.users.UserDirectory;
import io.grpc.CallCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A follower whose read of the store's changes hangs (a link cut without a reset) rather than
 * fails: its watches were ended only when a poll threw, and its token checks shared the
 * poll's thread, so watches went silent for as long as TCP retried.
 */
class FollowerReadsTest {
  @TempDir Path dir;

  @Test
  void aWatchEndsOnceTheReplicaIsStaleThoughItsPollHangs() throws Exception {
    MutableClock clock = new MutableClock(Instant.parse("2026-12-06T12:00:00Z"));
    CountDownLatch linkBack = new CountDownLatch(1);
    AtomicBoolean cut = new AtomicBoolean();
    ScheduledExecutorService polls = Executors.newSingleThreadScheduledExecutor();
    ScheduledExecutorService checks = Executors.newSingleThreadScheduledExecutor();
    try (SqliteStore real = SqliteStore.open(dir.resolve("noid.db"))) {
      Store store = (Store) Proxy.newProxyInstance(Store.class.getClassLoader(),
          new Class<?>[] {Store.class}, (proxy, m, args) -> {
            if (m.getName().equals("vmChangesAfter") && cut.get()) {
              linkBack.await();
            }
            try {
              return m.invoke(real, args);
            } catch (InvocationTargetException e) {
              throw e.getCause();
            }
          });
      String token = new UserDirectory(store, new LoginLimiter(5, 100, Duration.ofMinutes(1),
          100, clock), clock).add("alice", UserDirectory.ROLE_USER).token();
      FollowerReads reads = new FollowerReads(store, clock);
      Server server = InProcessServerBuilder.forName("follower-reads").directExecutor()
          .addService(ServerInterceptors.intercept(reads.service(), reads.auth())).build().start();
      ManagedChannel channel = InProcessChannelBuilder.forName("follower-reads").build();
      try {
        CompletableFuture<Status> ended = new CompletableFuture<>();
        VmServiceGrpc.newStub(channel).withCallCredentials(bearer(token)).watchVms(
            WatchVmsRequest.getDefaultInstance(), new StreamObserver<WatchVmsResponse>() {
              @Override public void onNext(WatchVmsResponse r) { }
              @Override public void onError(Throwable t) { ended.complete(Status.fromThrowable(t)); }
              @Override public void onCompleted() { ended.complete(Status.OK); }
            });
        reads.start(polls, checks);
        cut.set(true);
        clock.advance(FollowerReads.STALE.plusSeconds(1));

        await().atMost(Duration.ofSeconds(20)).until(ended::isDone);
        assertThat(ended.get().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
        assertThat(ended.get().getDescription()).contains("has not reached the store");
      } finally {
        linkBack.countDown();
        channel.shutdownNow();
        server.shutdownNow();
      }
    } finally {
      polls.shutdownNow();
      checks.shutdownNow();
    }
  }

  @Test
  void aWatchThatRegistersJustAfterTheReplicaWentStaleIsEnded() throws Exception {
    MutableClock time = new MutableClock(Instant.parse("2026-12-06T12:00:00Z"));
    AtomicReference<Runnable> atTheWatchsCheck = new AtomicReference<>();
    // Runs a step between the watch's own check of the replica and its registration.
    Clock clock = new Clock() {
      @Override
      public Instant instant() {
        Instant now = time.instant();
        Runnable step = atTheWatchsCheck.get();
        if (step != null && inWatchVms() && atTheWatchsCheck.compareAndSet(step, null)) {
          step.run();
        }
        return now;
      }

      @Override
      public ZoneId getZone() {
        return ZoneOffset.UTC;
      }

      @Override
      public Clock withZone(ZoneId zone) {
        throw new UnsupportedOperationException();
      }
    };
    try (SqliteStore store = SqliteStore.open(dir.resolve("noid.db"))) {
      String token = new UserDirectory(store, new LoginLimiter(5, 100, Duration.ofMinutes(1),
          100, clock), clock).add("alice", UserDirectory.ROLE_USER).token();
      FollowerReads reads = new FollowerReads(store, clock);
      Server server = InProcessServerBuilder.forName("follower-reads-race").directExecutor()
          .addService(ServerInterceptors.intercept(reads.service(), reads.auth())).build().start();
      ManagedChannel channel = InProcessChannelBuilder.forName("follower-reads-race").build();
      try {
        atTheWatchsCheck.set(() -> {
          time.advance(FollowerReads.STALE.plusSeconds(1));
          reads.endWatchesOnceStale(); // no watch registered yet to end
        });
        CompletableFuture<Status> ended = new CompletableFuture<>();
        VmServiceGrpc.newStub(channel).withCallCredentials(bearer(token)).watchVms(
            WatchVmsRequest.getDefaultInstance(), new StreamObserver<WatchVmsResponse>() {
              @Override public void onNext(WatchVmsResponse r) { }
              @Override public void onError(Throwable t) { ended.complete(Status.fromThrowable(t)); }
              @Override public void onCompleted() { ended.complete(Status.OK); }
            });

        await().atMost(Duration.ofSeconds(10)).until(ended::isDone);
        assertThat(atTheWatchsCheck.get()).as("the step ran").isNull();
        assertThat(ended.get().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
        assertThat(ended.get().getDescription()).contains("has not reached the store");
      } finally {
        channel.shutdownNow();
        server.shutdownNow();
      }
    }
  }

  private static boolean inWatchVms() {
    return StackWalker.getInstance().walk(frames -> frames.anyMatch(f ->
        f.getMethodName().equals("watchVms") && f.getClassName().endsWith(".VmReads")));
  }

  private static CallCredentials bearer(String token) {
    return new CallCredentials() {
      @Override
      public void applyRequestMetadata(RequestInfo info, java.util.concurrent.Executor executor,
          MetadataApplier applier) {
        Metadata h = new Metadata();
        h.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER),
            "Bearer " + token);
        applier.apply(h);
      }
    };
  }
}
