package dev.noid.common.grpc;

import dev.noid.common.config.StartupException;
import io.grpc.Server;
import java.io.IOException;
import java.net.BindException;
import java.util.concurrent.TimeUnit;

/** Starts a gRPC server reporting a taken port plainly, and stops it gracefully then firmly. */
public final class GrpcServerRunner {
  private GrpcServerRunner() {}

  public static Server start(String what, int port, Server server) {
    try {
      return server.start();
    } catch (IOException e) {
      if (isBindFailure(e)) {
        throw new StartupException(what + " port " + port + " is already in use", e);
      }
      throw new StartupException("cannot start " + what + " on port " + port + ": "
          + e.getMessage(), e);
    }
  }

  public static void stop(Server server, long graceSeconds) {
    if (server == null) {
      return;
    }
    server.shutdown();
    try {
      if (!server.awaitTermination(graceSeconds, TimeUnit.SECONDS)) {
        server.shutdownNow();
        server.awaitTermination(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      server.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }

  private static boolean isBindFailure(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof BindException
          || (t.getMessage() != null && t.getMessage().contains("Address already in use"))) {
        return true;
      }
    }
    return false;
  }
}
