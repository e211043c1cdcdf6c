package dev.noid.controller.store;

import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import dev.noid.controller.config.ControllerConfig;
import java.nio.file.Path;

/** Binds the store named by the configuration. */
public final class StoreModule extends AbstractModule {
  @Provides
  @Singleton
  Store store(ControllerConfig config) {
    return open(config.effectiveStoreUrl());
  }

  public static Store open(String url) {
    if (url.startsWith("jdbc:sqlite:")) {
      return SqliteStore.open(Path.of(url.substring("jdbc:sqlite:".length())));
    }
    return PostgresStore.open(url);
  }
}
