package dev.noid.controller.users;

/** Who is calling: set by the auth interceptor, passed to the use cases. */
public record Principal(String name, boolean admin) {}
