package dev.noid.controller.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.stub.StreamObserver;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** Collects a server stream's messages for a test to take one by one, and how it ended. */
class StreamRecorder<R> implements StreamObserver<R> {
  final BlockingQueue<R> events = new LinkedBlockingQueue<>();
  final CompletableFuture<Throwable> error = new CompletableFuture<>();

  @Override
  public void onNext(R r) {
    events.add(r);
  }

  @Override
  public void onError(Throwable t) {
    error.complete(t);
  }

  @Override
  public void onCompleted() {}

  R next() throws InterruptedException {
    R r = events.poll(30, TimeUnit.SECONDS);
    assertThat(r).as("an event within 30 s").isNotNull();
    return r;
  }
}
