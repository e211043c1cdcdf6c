package dev.noid.controller.images;

import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import dev.noid.controller.config.ControllerConfig;
import dev.noid.controller.images.importing.ImageImporter;
import dev.noid.controller.nodes.NodeRegistry;
import dev.noid.controller.store.Store;
import dev.noid.controller.vms.service.VmImageUsers;
import dev.noid.controller.vms.store.CheckpointTable;
import dev.noid.controller.vms.store.VmTable;
import java.time.Clock;

/** Fleet images: their records, their files under DATA_DIR/images, and imports. */
public final class ImagesModule extends AbstractModule {
  /** The largest root filesystem an import may make. */
  public static final long MAX_IMAGE_BYTES = 8L << 30;

  @Provides
  @Singleton
  ImageBlobs blobs(ImagesDir dir) {
    return new ImageBlobs(dir.path());
  }

  @Provides
  @Singleton
  FleetImages images(Store store, ImageBlobs blobs, VmTable vms, CheckpointTable checkpoints,
      NodeRegistry nodes, Clock clock) {
    return new FleetImages(store, blobs, new VmImageUsers(vms, checkpoints), nodes, clock);
  }

  @Provides
  @Singleton
  ImagePullsInFlight pulls(NodeRegistry nodes) {
    return ImagePullsInFlight.of(nodes);
  }

  @Provides
  @Singleton
  ImageImports imports(ImageBlobs blobs, FleetImages images) {
    return new ImageImports(new ImageImporter(MAX_IMAGE_BYTES), blobs, images);
  }
}
