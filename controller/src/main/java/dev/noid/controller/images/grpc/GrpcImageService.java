package dev.noid.controller.images.grpc;

import dev.noid.api.v1.GetImageRequest;
import dev.noid.api.v1.GetImageResponse;
import dev.noid.api.v1.ImageServiceGrpc;
import dev.noid.api.v1.ImportImageRequest;
import dev.noid.api.v1.ImportImageResponse;
import dev.noid.api.v1.ListImagesRequest;
import dev.noid.api.v1.ListImagesResponse;
import dev.noid.api.v1.RemoveImageRequest;
import dev.noid.api.v1.RemoveImageResponse;
import dev.noid.controller.api.Calls;
import dev.noid.controller.images.FleetImage;
import dev.noid.controller.images.FleetImages;
import dev.noid.controller.images.ImageImports;
import dev.noid.controller.images.ImagePullsInFlight;
import io.grpc.stub.StreamObserver;
import jakarta.inject.Inject;

/** noid.v1.ImageService (import and remove are admin only: enforced by the auth interceptor). */
public final class GrpcImageService extends ImageServiceGrpc.ImageServiceImplBase {
  private final FleetImages images;
  private final ImageImports imports;
  private final ImagePullsInFlight pulls;

  @Inject
  public GrpcImageService(FleetImages images, ImageImports imports, ImagePullsInFlight pulls) {
    this.images = images;
    this.imports = imports;
    this.pulls = pulls;
  }

  @Override
  public void listImages(ListImagesRequest r, StreamObserver<ListImagesResponse> out) {
    Calls.unary(out, () -> {
      ListImagesResponse.Builder b = ListImagesResponse.newBuilder();
      images.list().forEach(i -> b.addImages(message(i)));
      return b.build();
    });
  }

  @Override
  public void getImage(GetImageRequest r, StreamObserver<GetImageResponse> out) {
    Calls.unary(out, () -> GetImageResponse.newBuilder().setImage(message(images.get(r.getName())))
        .build());
  }

  @Override
  public StreamObserver<ImportImageRequest> importImage(StreamObserver<ImportImageResponse> out) {
    return new ImportCall(imports, out, this::message);
  }

  @Override
  public void removeImage(RemoveImageRequest r, StreamObserver<RemoveImageResponse> out) {
    Calls.unary(out, () -> {
      images.remove(r.getName());
      return RemoveImageResponse.getDefaultInstance();
    });
  }

  private dev.noid.api.v1.Image message(FleetImage i) {
    return ImageMessages.image(i, images.holders(i.digest()), pulls.of(i.digest()));
  }
}
