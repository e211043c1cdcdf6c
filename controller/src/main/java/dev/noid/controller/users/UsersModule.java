package dev.noid.controller.users;

import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import dev.noid.controller.store.Store;
import java.time.Clock;
import java.time.Duration;

/** Users, tokens and the login limit (10 failures per token prefix per minute). */
public final class UsersModule extends AbstractModule {
  @Provides
  @Singleton
  UserDirectory users(Store store, Clock clock) {
    return new UserDirectory(store, new LoginLimiter(10, Duration.ofSeconds(60), clock), clock);
  }
}
