package dev.noid.controller;

import com.google.inject.AbstractModule;
import dev.noid.controller.api.ApiModule;
import dev.noid.controller.config.ControllerConfig;
import dev.noid.controller.http.HttpModule;
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

  /** A controller on its own: it opens its store and always leads. */
  public ControllerModule(ControllerConfig config) {
    this(config, null, Leadership.alone(config.bindAddress() + ":" + config.grpcPort()));
  }

  /** A controller that won the lease: {@code store} is open and fenced at its epoch. */
  public ControllerModule(ControllerConfig config, Store store, Leadership leadership) {
    this.config = config;
    this.store = store;
    this.leadership = leadership;
  }

  @Override
  protected void configure() {
    bind(ControllerConfig.class).toInstance(config);
    bind(Clock.class).toInstance(Clock.systemUTC());
    install(new PkiModule());
    bind(Leadership.class).toInstance(leadership);
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
