package dev.noid.controller;

import dev.noid.controller.store.Store;
import dev.noid.controller.store.StoreModule;
import java.nio.file.Path;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/** Options shared by the commands that work on the store from the controller host. */
class StoreCommand {
  // Inherited: `users add NAME --data-dir D` and `users --data-dir D add NAME` both work.
  @Option(names = "--data-dir", defaultValue = "/var/lib/noid/controller", scope = ScopeType.INHERIT,
      description = "The controller's data directory.")
  Path dataDir;

  @Option(names = "--store-url", defaultValue = "", scope = ScopeType.INHERIT,
      description = "As for 'serve'.")
  String storeUrl;

  Store openStore() {
    String url = storeUrl.isEmpty() ? "jdbc:sqlite:" + dataDir.toAbsolutePath().resolve("noid.db") : storeUrl;
    return StoreModule.open(url);
  }
}
