package dev.noid.controller.testing;

import dev.noid.controller.store.Store;
import dev.noid.controller.store.UserRow;
import java.time.Instant;

/** Users in a store, for tests that write VMs straight to it: the store keeps none of a non-user. */
public final class StoreUsers {
  private StoreUsers() {}

  public static void add(Store store, String... names) {
    for (String name : names) {
      store.insertUser(new UserRow(name, "user", "hash-" + name, "noid_tok_" + name,
          Instant.EPOCH));
    }
  }
}
