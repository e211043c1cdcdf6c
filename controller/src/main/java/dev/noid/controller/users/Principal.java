package dev.noid.controller.users;

import java.time.Instant;

/**
 * Who is calling: set by the auth interceptor, passed to the use cases. {@code created} tells
 * this user apart from an earlier, removed user of the same name: what that one left in
 * histories (the VM change feed) predates it.
 */
public record Principal(String name, boolean admin, Instant created) {
  /** A principal acting for {@code name} whoever holds it (the controller's own work, tests). */
  public Principal(String name, boolean admin) {
    this(name, admin, Instant.EPOCH);
  }

  /** Whether a VM of {@code owner} created at {@code vmCreated} is this user's, not an earlier holder's. */
  public boolean owns(String owner, Instant vmCreated) {
    return name.equals(owner) && !vmCreated.isBefore(created);
  }

  /**
   * When a VM this user makes now was created: never before the user, even by the clock of
   * another controller that lags the one that added them, so {@link #owns} always holds.
   */
  public Instant newVmCreated(Instant now) {
    return now.isBefore(created) ? created : now;
  }
}
