package dev.noid.controller.pki;

import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import dev.noid.controller.config.ControllerConfig;

/** Binds the cluster CA and the controller's TLS material. */
public final class PkiModule extends AbstractModule {
  @Provides
  @Singleton
  ClusterPki clusterPki(ControllerConfig config) {
    return ClusterPki.open(config);
  }
}
