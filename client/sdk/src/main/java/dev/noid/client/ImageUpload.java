package dev.noid.client;

import com.google.protobuf.ByteString;
import dev.noid.api.v1.Image;
import dev.noid.api.v1.ImageServiceGrpc;
import dev.noid.api.v1.ImportImageRequest;
import dev.noid.api.v1.ImportImageResponse;
import dev.noid.api.v1.ImportImageStart;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.function.LongConsumer;

/**
 * One ImportImage call: the start message, then the source's bytes in 1 MiB messages, each sent
 * only when the transport is ready for it (an image is gigabytes; nothing is buffered whole).
 */
final class ImageUpload implements ClientResponseObserver<ImportImageRequest, ImportImageResponse> {
  private static final int CHUNK_BYTES = 1 << 20;

  private final CompletableFuture<Image> result = new CompletableFuture<>();
  private final Semaphore ready = new Semaphore(0);
  private ClientCallStreamObserver<ImportImageRequest> requests;

  static Image run(ImageServiceGrpc.ImageServiceStub stub, ImportImageStart start,
      InputStream data, LongConsumer sent) {
    ImageUpload call = new ImageUpload();
    stub.importImage(call);
    call.send(start, data, sent);
    try {
      return call.result.get();
    } catch (ExecutionException e) {
      throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      call.requests.cancel("interrupted", e);
      throw new IllegalStateException("interrupted while importing", e);
    }
  }

  @Override
  public void beforeStart(ClientCallStreamObserver<ImportImageRequest> stream) {
    requests = stream;
    stream.setOnReadyHandler(ready::release);
  }

  private void send(ImportImageStart start, InputStream data, LongConsumer sent) {
    requests.onNext(ImportImageRequest.newBuilder().setStart(start).build());
    long total = 0;
    try {
      if (data != null) {
        byte[] buf;
        while (!result.isDone() && (buf = data.readNBytes(CHUNK_BYTES)).length > 0) {
          while (!requests.isReady() && !result.isDone()) {
            ready.acquireUninterruptibly();
          }
          requests.onNext(ImportImageRequest.newBuilder().setData(ByteString.copyFrom(buf)).build());
          total += buf.length;
          sent.accept(total);
        }
      }
    } catch (IOException e) {
      requests.cancel("cannot read the source", e);
      throw new UncheckedIOException("cannot read the image source: " + e.getMessage(), e);
    }
    if (!result.isDone()) {
      requests.onCompleted();
    }
  }

  @Override
  public void onNext(ImportImageResponse r) {
    result.complete(r.getImage());
  }

  @Override
  public void onError(Throwable t) {
    result.completeExceptionally(t);
    ready.release();
  }

  @Override
  public void onCompleted() {
    // A server that ends the call without an answer must not leave the caller waiting.
    result.completeExceptionally(new IllegalStateException("the controller ended the import"
        + " without an answer"));
    ready.release();
  }
}
