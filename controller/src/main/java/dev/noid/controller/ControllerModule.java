package dev.noid.controller;

import com.google.inject.AbstractModule;
import dev.noid.controller.api.ApiModule;
import dev.noid.controller.config.ControllerConfig;
import dev.noid.controller.http.HttpModule;
import dev.noid.controller.images.ImagesDir;
import dev.noid.controller.images.ImagesModule;
import dev.noid.controller.pki.PkiModule;
import dev.noid.controller.server.ServerModule;
import dev.noid.controller.nodes.NodesModule;
import dev.noid.controller.observability.ObservabilityModule;
import dev.noid.controller.store.Store;
import dev.noid.controller.store.StoreModule;
import dev.noid.controller.ha.Leadership;
import dev.noid.controller.users.UsersModule;
import dev.noid.controller.vms.VmsModule;
import java.time.Clock;

/** The controller's object graph: only the list of feature modules. */
public final class ControllerModule extends AbstractModule {
  private final ControllerConfig config;
  private final Store store;
  private final Leadership leadership;
  private final ImagesDir images;

  /** A controller on its own: it opens its store and always leads. */
  public ControllerModule(ControllerConfig config) {
    this(config, null);
  }

  /** As {@link #ControllerModule(ControllerConfig)}, with its images in {@code imagesDir}. */
  public ControllerModule(ControllerConfig config, java.nio.file.Path imagesDir) {
    this(config, null, Leadership.alone(config.bindAddress() + ":" + config.grpcPort()),
        imagesDir);
  }

  /**
   * {@code store}: open and fenced at the leader's epoch, or null to open the configured one;
   * {@code imagesDir}: null for DATA_DIR/images.
   */
  public ControllerModule(ControllerConfig config, Store store, Leadership leadership,
      java.nio.file.Path imagesDir) {
    this.config = config;
    this.store = store;
    this.leadership = leadership;
    this.images = new ImagesDir(imagesDir != null ? imagesDir : config.dataDir().resolve("images"));
  }

  @Override
  protected void configure() {
    bind(ControllerConfig.class).toInstance(config);
    bind(Clock.class).toInstance(Clock.systemUTC());
    install(new PkiModule());
    bind(Leadership.class).toInstance(leadership);
    bind(ImagesDir.class).toInstance(images);
    if (store == null) {
      install(new StoreModule());
    } else {
      bind(Store.class).toInstance(store);
    }
    install(new UsersModule());
    install(new NodesModule());
    install(new VmsModule());
    install(new ImagesModule());
    install(new ObservabilityModule());
    install(new ServerModule());
    install(new ApiModule());
    install(new HttpModule());
  }
}
