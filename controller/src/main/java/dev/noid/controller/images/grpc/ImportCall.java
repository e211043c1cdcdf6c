package dev.noid.controller.images.grpc;

import dev.noid.api.v1.Image;
import dev.noid.api.v1.ImageSourceKind;
import dev.noid.api.v1.ImportImageRequest;
import dev.noid.api.v1.ImportImageResponse;
import dev.noid.api.v1.ImportImageStart;
import dev.noid.common.naming.ResourceNames;
import dev.noid.controller.api.GrpcStatusMapper;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.images.FleetImage;
import dev.noid.controller.images.ImageImports;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Function;

/**
 * One ImportImage call: the start message, the source's bytes into a private file, and on the
 * client's half-close the conversion (on the call's own virtual thread: it may take minutes). Any failure removes what was
 * written; nothing is recorded unless the whole import succeeded.
 */
final class ImportCall implements StreamObserver<ImportImageRequest> {
  /** The most an upload may carry: larger sources are better pulled from a registry. */
  static final long MAX_UPLOAD_BYTES = 16L << 30;

  private final ImageImports imports;
  private final StreamObserver<ImportImageResponse> out;
  private final Function<FleetImage, Image> toMessage;
  private ImportImageStart start;
  private Path workDir;
  private Path upload;
  private OutputStream sink;
  private long received;
  private boolean failed;

  ImportCall(ImageImports imports, StreamObserver<ImportImageResponse> out,
      Function<FleetImage, Image> toMessage) {
    this.imports = imports;
    this.out = out;
    this.toMessage = toMessage;
  }

  @Override
  public void onNext(ImportImageRequest r) {
    if (failed) {
      return;
    }
    try {
      if (r.hasStart()) {
        begin(r.getStart());
      } else if (r.hasData()) {
        write(r.getData().toByteArray());
      } else {
        throw NoidException.invalid("each message must carry start or data");
      }
    } catch (RuntimeException e) {
      fail(e);
    }
  }

  private void begin(ImportImageStart s) {
    if (start != null) {
      throw NoidException.invalid("start may only be the first message");
    }
    String problem = ResourceNames.problem("start.name", s.getName());
    if (problem != null) {
      throw NoidException.invalid(problem);
    }
    start = s;
    if (s.getKind() == ImageSourceKind.IMAGE_SOURCE_KIND_REGISTRY) {
      if (!s.getReference().startsWith("oci://")) {
        throw NoidException.invalid("start.reference must be oci://HOST/REPO[:TAG|@sha256:HEX]"
            + " for a registry source; got '" + s.getReference() + "'");
      }
      return;
    }
    ImageMessages.uploadKind(s.getKind());
    workDir = imports.newWorkDir();
    upload = workDir.resolve(uploadName(s.getReference()));
    try {
      sink = Files.newOutputStream(upload);
    } catch (IOException e) {
      throw new NoidException(NoidException.Code.INTERNAL, "cannot write the upload: "
          + e.getMessage(), e);
    }
  }

  /** The client's file name, for the image's origin, when it is a plain one. */
  static String uploadName(String reference) {
    String base = reference.substring(reference.lastIndexOf('/') + 1);
    return base.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,99}") ? base : "upload";
  }

  private void write(byte[] data) {
    if (start == null) {
      throw NoidException.invalid("the first message must carry start");
    }
    if (sink == null) {
      throw NoidException.invalid("a registry source takes no data: the controller pulls it");
    }
    received += data.length;
    if (received > MAX_UPLOAD_BYTES) {
      throw new NoidException(NoidException.Code.LIMIT_EXCEEDED, "the upload is over "
          + (MAX_UPLOAD_BYTES >> 30) + " GiB, the most an import may send: push the image to a"
          + " registry and import it from there");
    }
    try {
      sink.write(data);
    } catch (IOException e) {
      throw new NoidException(NoidException.Code.INTERNAL, "cannot write the upload: "
          + e.getMessage(), e);
    }
  }

  @Override
  public void onError(Throwable t) {
    failed = true;
    cleanUp();
  }

  @Override
  public void onCompleted() {
    if (failed) {
      return;
    }
    if (start == null) {
      fail(NoidException.invalid("the first message must carry start"));
      return;
    }
    try {
      if (sink != null) {
        sink.close();
      }
    } catch (IOException | RuntimeException e) {
      fail(new NoidException(NoidException.Code.INTERNAL, "cannot write the upload: "
          + e.getMessage(), e));
      return;
    }
    convert();
  }

  private void convert() {
    try {
      FleetImage image = start.getKind() == ImageSourceKind.IMAGE_SOURCE_KIND_REGISTRY
          ? imports.fromRegistry(start.getName(), start.getReference(), start.getPlainHttp(),
              start.getSha256(), start.getReplace())
          : imports.fromUpload(start.getName(), ImageMessages.uploadKind(start.getKind()),
              workDir, upload, start.getSha256(), start.getReplace());
      out.onNext(ImportImageResponse.newBuilder().setImage(toMessage.apply(image)).build());
      out.onCompleted();
    } catch (RuntimeException e) {
      fail(e);
    }
  }

  private void fail(RuntimeException e) {
    failed = true;
    cleanUp();
    out.onError(GrpcStatusMapper.toStatus(e));
  }

  private void cleanUp() {
    try {
      if (sink != null) {
        sink.close();
      }
    } catch (IOException ignored) {
      // the file goes with the directory
    }
    if (workDir != null) {
      imports.discard(workDir);
    }
  }
}
