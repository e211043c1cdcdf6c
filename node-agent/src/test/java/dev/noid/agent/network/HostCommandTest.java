package dev.noid.agent.network;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class HostCommandTest {
  @Test
  void aCommandRunsWhileEveryThreadOfTheCommonPoolIsBlocked() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    int threads = ForkJoinPool.getCommonPoolParallelism();
    CountDownLatch blocked = new CountDownLatch(threads);
    List<CompletableFuture<Void>> hogs = IntStream.range(0, threads)
        .mapToObj(i -> CompletableFuture.runAsync(() -> {
          blocked.countDown();
          try {
            release.await();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        })).toList();
    try {
      assertThat(blocked.await(30, TimeUnit.SECONDS)).as("the common pool taken").isTrue();
      CompletableFuture<HostCommand.Result> run = CompletableFuture.supplyAsync(
          () -> new HostCommand().tryRun(List.of("sh", "-c", "echo out; echo err >&2"), null),
          r -> Thread.ofPlatform().daemon().start(r));

      HostCommand.Result r = run.get(30, TimeUnit.SECONDS);

      assertThat(r.ok()).isTrue();
      assertThat(r.stdout()).isEqualTo("out\n");
      assertThat(r.stderr()).isEqualTo("err\n");
    } finally {
      release.countDown();
      CompletableFuture.allOf(hogs.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
    }
  }
}
