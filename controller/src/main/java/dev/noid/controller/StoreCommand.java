package dev.noid.controller;

import dev.noid.common.config.ConfigException;
import dev.noid.controller.store.Store;
import dev.noid.controller.store.StoreModule;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.ScopeType;

/**
 * Options shared by the commands that work on the store from the controller host. Each value
 * is the flag's, else the controller's config file's (see {@link ControllerConfigFile}), else
 * serve's default, so these commands find the store the running controller uses, and never
 * make a new one: an empty store would hand out tokens the controller has never heard of.
 */
class StoreCommand {
  static final String DEFAULT_DATA_DIR = "/var/lib/noid/controller";

  @ParentCommand ControllerMain main;

  // Inherited: `users add NAME --data-dir D` and `users --data-dir D add NAME` both work.
  @Option(names = "--data-dir", scope = ScopeType.INHERIT, paramLabel = "DIR",
      description = "The controller's data directory (default: the config file's data-dir, else "
          + DEFAULT_DATA_DIR + ").")
  Path dataDir;

  @Option(names = "--store-url", scope = ScopeType.INHERIT,
      description = "As for 'serve' (default: the config file's store-url, else SQLite in DATA_DIR).")
  String storeUrl;

  @Option(names = "--config", scope = ScopeType.INHERIT, paramLabel = "FILE",
      description = "The controller's config file, as for 'serve' (default: $"
          + ControllerConfigFile.ENV + ", else /etc/noid/controller.conf when it exists).")
  Path configForHelp; // read before parsing, by ControllerConfigFile; here for --help

  ControllerConfigFile config() {
    return main == null ? ControllerConfigFile.none() : main.config();
  }

  Path dataDir() {
    if (dataDir != null) {
      return dataDir.toAbsolutePath();
    }
    String configured = config().value("data-dir");
    return Path.of(configured != null ? configured : DEFAULT_DATA_DIR).toAbsolutePath();
  }

  private String storeUrl() {
    if (storeUrl != null && !storeUrl.isEmpty()) {
      return storeUrl;
    }
    String configured = config().value("store-url");
    return configured != null && !configured.isEmpty() ? configured
        : "jdbc:sqlite:" + dataDir().resolve("noid.db");
  }

  Store openStore() {
    String url = storeUrl();
    if (url.startsWith("jdbc:sqlite:")) {
      Path db = Path.of(url.substring("jdbc:sqlite:".length()).replaceFirst("\\?.*", ""));
      if (!Files.isRegularFile(db)) {
        throw new ConfigException("no controller store at " + db + ": pass --config or --data-dir");
      }
    }
    return StoreModule.open(url);
  }
}
