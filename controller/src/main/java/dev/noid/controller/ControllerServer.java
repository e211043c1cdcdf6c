package dev.noid.controller;

import com.google.inject.Guice;
import com.google.inject.Injector;
import dev.noid.common.http.HttpsEndpoint;
import dev.noid.controller.config.ControllerConfig;
import dev.noid.controller.http.HealthzHandler;
import dev.noid.controller.server.PublicGrpcServer;
import jakarta.inject.Inject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Starts and stops the controller's listeners in order; health follows the lifecycle. */
public final class ControllerServer {
  private static final Logger log = LoggerFactory.getLogger(ControllerServer.class);

  private final ControllerConfig config;
  private final PublicGrpcServer grpc;
  private final HttpsEndpoint https;
  private final HealthzHandler healthz;

  @Inject
  ControllerServer(ControllerConfig config, PublicGrpcServer grpc, HttpsEndpoint https,
      HealthzHandler healthz) {
    this.config = config;
    this.grpc = grpc;
    this.https = https;
    this.healthz = healthz;
  }

  public static ControllerServer create(ControllerConfig config) {
    Injector injector = Guice.createInjector(new ControllerModule(config));
    return injector.getInstance(ControllerServer.class);
  }

  public void start() {
    grpc.start();
    try {
      https.start();
    } catch (RuntimeException e) {
      grpc.stop();
      throw e;
    }
    grpc.setServing(true);
    healthz.setServing(true);
    log.atInfo().addKeyValue("grpc_port", grpc.port()).addKeyValue("https_port", https.port())
        .addKeyValue("data_dir", config.dataDir().toString())
        .log("noid-controller {} serving", Version.current());
  }

  public void awaitTermination() throws InterruptedException {
    grpc.awaitTermination();
  }

  public void stop() {
    log.info("noid-controller stopping");
    healthz.setServing(false);
    https.close();
    grpc.stop();
  }
}
