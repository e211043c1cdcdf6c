package dev.noid.controller.users;

import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import dev.noid.controller.store.Store;
import java.time.Clock;
import java.time.Duration;

/** Users, tokens and the login limit (per caller address and overall; {@link LoginLimiter}). */
public final class UsersModule extends AbstractModule {
  @Provides
  @Singleton
  UserDirectory users(Store store, Clock clock) {
    return new UserDirectory(store, new LoginLimiter(LoginLimiter.PER_CALLER, LoginLimiter.GLOBAL,
        Duration.ofSeconds(60), LoginLimiter.MAX_CALLERS, clock), clock);
  }
}
