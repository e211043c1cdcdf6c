package dev.noid.controller.api;

import com.google.inject.AbstractModule;
import com.google.inject.multibindings.Multibinder;
import io.grpc.BindableService;

/** The public gRPC services (noid.v1). */
public final class ApiModule extends AbstractModule {
  @Override
  protected void configure() {
    Multibinder<BindableService> services = Multibinder.newSetBinder(binder(), BindableService.class);
    services.addBinding().to(GrpcVmService.class);
    services.addBinding().to(GrpcNodeService.class);
    services.addBinding().to(GrpcUserService.class);
  }
}
