package dev.noid.controller.images.grpc;

import com.google.protobuf.ByteString;
import dev.noid.api.agent.v1.ImageChunk;
import dev.noid.controller.api.GrpcStatusMapper;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.images.ImageBlobs;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Sends an image's file to an agent (PullImage), one chunk whenever the transport is ready for
 * it: an image is gigabytes, and queueing it all would hold it in the controller's memory.
 */
public final class ImagePulls {
  static final int CHUNK_BYTES = 1 << 20;

  private final ImageBlobs blobs;

  @Inject
  public ImagePulls(ImageBlobs blobs) {
    this.blobs = blobs;
  }

  public void send(String digest, StreamObserver<ImageChunk> observer) {
    ServerCallStreamObserver<ImageChunk> out = (ServerCallStreamObserver<ImageChunk>) observer;
    Path file;
    InputStream in;
    long total;
    try {
      file = blobs.path(digest);
      if (!Files.isRegularFile(file)) {
        throw NoidException.notFound("image " + digest + " is not in this controller's store");
      }
      total = Files.size(file);
      in = Files.newInputStream(file);
    } catch (IOException | RuntimeException e) {
      out.onError(GrpcStatusMapper.toStatus(e instanceof RuntimeException r ? r
          : new NoidException(NoidException.Code.INTERNAL, "cannot read image " + digest, e)));
      return;
    }
    Pump pump = new Pump(in, total, out);
    out.setOnCancelHandler(pump::close);
    out.setOnReadyHandler(pump);
  }

  private static final class Pump implements Runnable {
    private final InputStream in;
    private final ServerCallStreamObserver<ImageChunk> out;
    private long total;
    private boolean done;

    Pump(InputStream in, long total, ServerCallStreamObserver<ImageChunk> out) {
      this.in = in;
      this.total = total;
      this.out = out;
    }

    @Override
    public synchronized void run() {
      try {
        while (!done && out.isReady()) {
          byte[] buf = in.readNBytes(CHUNK_BYTES);
          if (buf.length == 0) {
            close();
            out.onCompleted();
            return;
          }
          ImageChunk.Builder chunk = ImageChunk.newBuilder().setData(ByteString.copyFrom(buf));
          if (total >= 0) {
            chunk.setTotalBytes(total); // only in the first chunk
            total = -1;
          }
          out.onNext(chunk.build());
        }
      } catch (IOException e) {
        close();
        out.onError(GrpcStatusMapper.toStatus(new NoidException(NoidException.Code.INTERNAL,
            "cannot read the image: " + e.getMessage(), e)));
      }
    }

    synchronized void close() {
      done = true;
      try {
        in.close();
      } catch (IOException ignored) {
        // nothing more is read from it
      }
    }
  }
}
