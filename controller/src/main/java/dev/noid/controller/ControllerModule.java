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
import dev.noid.controller.store.StoreModule;
import dev.noid.controller.users.UsersModule;
import dev.noid.controller.vms.VmsModule;
import java.time.Clock;

/** The controller's object graph: only the list of feature modules. */
public final class ControllerModule extends AbstractModule {
  private final ControllerConfig config;

  public ControllerModule(ControllerConfig config) {
    this.config = config;
  }

  @Override
  protected void configure() {
    bind(ControllerConfig.class).toInstance(config);
    bind(Clock.class).toInstance(Clock.systemUTC());
    install(new PkiModule());
    install(new StoreModule());
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
