package dev.noid.controller;

import com.google.inject.AbstractModule;
import dev.noid.controller.api.ApiModule;
import dev.noid.controller.config.ControllerConfig;
import dev.noid.controller.http.HttpModule;
import dev.noid.controller.pki.PkiModule;
import dev.noid.controller.server.ServerModule;

/** The controller's object graph: only the list of feature modules. */
public final class ControllerModule extends AbstractModule {
  private final ControllerConfig config;

  public ControllerModule(ControllerConfig config) {
    this.config = config;
  }

  @Override
  protected void configure() {
    bind(ControllerConfig.class).toInstance(config);
    install(new PkiModule());
    install(new ServerModule());
    install(new ApiModule());
    install(new HttpModule());
  }
}
