package dev.noid.controller.users;

import io.grpc.Context;

/** Who is calling: set by the auth interceptor, read by the services. */
public record Principal(String name, boolean admin) {
  public static final Context.Key<Principal> KEY = Context.key("noid-principal");

  public static Principal current() {
    Principal p = KEY.get();
    if (p == null) {
      throw new IllegalStateException("no authenticated principal in this call");
    }
    return p;
  }
}
