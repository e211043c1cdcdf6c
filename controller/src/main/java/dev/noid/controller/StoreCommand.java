package dev.noid.controller;

import dev.noid.controller.store.Store;
import dev.noid.controller.store.StoreModule;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Options shared by the commands that work on the store from the controller host. */
class StoreCommand {
  @Option(names = "--data-dir", defaultValue = "/var/lib/noid/controller",
      description = "The controller's data directory.")
  Path dataDir;

  @Option(names = "--store-url", defaultValue = "", description = "As for 'serve'.")
  String storeUrl;

  Store openStore() {
    String url = storeUrl.isEmpty() ? "jdbc:sqlite:" + dataDir.toAbsolutePath().resolve("noid.db") : storeUrl;
    return StoreModule.open(url);
  }
}
