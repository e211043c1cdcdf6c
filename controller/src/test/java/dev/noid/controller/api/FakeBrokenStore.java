package dev.noid.controller.api;

import dev.noid.controller.store.Store;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * A real store whose one named method fails the way a broken database does, with the driver's
 * text (SQL, host paths) in the exception: what must never reach a client.
 */
final class FakeBrokenStore {
  private FakeBrokenStore() {}

  static Store failing(Store real, String method, Supplier<RuntimeException> failure) {
    return failingWhile(real, method, () -> true, failure);
  }

  /** As {@link #failing}, only while {@code broken} says so: a database that comes back. */
  static Store failingWhile(Store real, String method, BooleanSupplier broken,
      Supplier<RuntimeException> failure) {
    return (Store) Proxy.newProxyInstance(Store.class.getClassLoader(), new Class<?>[] {Store.class},
        (proxy, m, args) -> {
          if (m.getName().equals(method) && broken.getAsBoolean()) {
            throw failure.get();
          }
          try {
            return m.invoke(real, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
        });
  }
}
