package dev.noid.controller.scale;

import dev.noid.controller.nodes.JoinService;
import dev.noid.controller.store.SqliteStore;
import dev.noid.controller.users.LoginLimiter;
import dev.noid.controller.users.UserDirectory;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * What a scale run needs in the controller's store before it starts: an admin (to see nodes),
 * users with API tokens for the load generator, and one join token per hollow node, made the way {@code noid-controller
 * users add} and {@code join-token} make them (through the same classes, on the same SQLite
 * file) but in one process rather than a thousand.
 */
public record ClusterSeed(String adminToken, List<String> userTokens, List<String> joinTokens) {
  public static ClusterSeed create(Path dataDir, int users, int nodes) {
    Clock clock = Clock.systemUTC();
    try (SqliteStore store = SqliteStore.open(dataDir.resolve("noid.db"))) {
      UserDirectory directory = new UserDirectory(store,
          new LoginLimiter(10, Duration.ofSeconds(60), clock), clock);
      String admin = directory.add("bench-admin", UserDirectory.ROLE_ADMIN).token();
      List<String> userTokens = new ArrayList<>();
      for (int i = 0; i < users; i++) {
        userTokens.add(directory.add("load-" + i, UserDirectory.ROLE_USER).token());
      }
      List<String> joinTokens = new ArrayList<>();
      for (int i = 0; i < nodes; i++) {
        joinTokens.add(JoinService.createToken(store, clock, Duration.ofHours(2)));
      }
      return new ClusterSeed(admin, userTokens, joinTokens);
    }
  }
}
