package dev.noid.controller.http;

import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import dev.noid.common.http.HttpsEndpoint;
import dev.noid.controller.config.ControllerConfig;
import dev.noid.controller.observability.HealthHandler;
import dev.noid.controller.pki.ClusterPki;
import java.net.InetSocketAddress;

/** The HTTPS listener: /health, /healthz, /metrics, /version. */
public final class HttpModule extends AbstractModule {
  @Provides
  @Singleton
  HttpsEndpoint httpsEndpoint(ControllerConfig config, ClusterPki pki, HealthzHandler healthz,
      MetricsHandler metrics, VersionHandler version, HealthHandler health) {
    return new HttpsEndpoint("HTTPS", new InetSocketAddress(config.bindAddress(), config.httpsPort()),
        pki.serverFiles().sslContext())
        .route("/health", health)
        .route("/healthz", healthz)
        .route("/metrics", metrics)
        .route("/version", version);
  }
}
