package dev.noid.controller.api;

import dev.noid.controller.images.grpc.GrpcImageService;
import dev.noid.controller.nodes.grpc.GrpcNodeService;
import dev.noid.controller.users.grpc.GrpcUserService;
import dev.noid.controller.vms.grpc.GrpcVmService;
import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import com.google.inject.multibindings.Multibinder;
import dev.noid.controller.nodes.grpc.GrpcNodeRegistration;
import dev.noid.controller.users.UserDirectory;
import io.grpc.BindableService;

/** The gRPC services: public (noid.v1) and node registration (noid.agent.v1). */
public final class ApiModule extends AbstractModule {
  @Override
  protected void configure() {
    Multibinder<BindableService> services = Multibinder.newSetBinder(binder(), BindableService.class);
    services.addBinding().to(GrpcVmService.class);
    services.addBinding().to(GrpcNodeService.class);
    services.addBinding().to(GrpcUserService.class);
    services.addBinding().to(GrpcImageService.class);
    services.addBinding().to(GrpcNodeRegistration.class);
  }

  @Provides
  @Singleton
  OpenStreams openStreams(UserDirectory users) {
    OpenStreams streams = new OpenStreams();
    users.onRevocation(streams::revoke);
    return streams;
  }

  @Provides
  @Singleton
  AuthInterceptor auth(UserDirectory users) {
    return new AuthInterceptor(users);
  }
}
