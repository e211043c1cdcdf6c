package dev.noid.controller.nodes;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.controller.MutableClock;
import dev.noid.controller.store.SqliteStore;
import dev.noid.controller.users.Tokens;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Join tokens in the store: only live ones kept (issue 19 L4), and a guess writes nothing. */
class JoinTokenPurgeTest {
  @TempDir Path dir;

  private long tokensStored() throws Exception {
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("noid.db"));
        Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT count(*) FROM join_tokens")) {
      rs.next();
      return rs.getLong(1);
    }
  }

  @Test
  void mintingATokenPurgesTheExpiredOnes() throws Exception {
    MutableClock clock = new MutableClock(Instant.parse("2026-05-01T10:00:00Z"));
    try (SqliteStore store = SqliteStore.open(dir.resolve("noid.db"))) {
      for (int i = 0; i < 100; i++) {
        JoinService.createToken(store, clock, Duration.ofMinutes(10));
        clock.advance(Duration.ofMinutes(1));
      }
      // Minted over 100 minutes, each living 10: only the last ten are still live.
      assertThat(tokensStored()).isLessThanOrEqualTo(11);
    }
  }

  /**
   * Anyone may try a join. A guessed token must not take the store's write lock (which every
   * VM operation shares): it is answered while another writer holds that lock.
   */
  @Test
  void aGuessedJoinTokenIsRefusedWithoutWritingToTheStore() throws Exception {
    MutableClock clock = new MutableClock(Instant.parse("2026-05-01T10:00:00Z"));
    try (SqliteStore store = SqliteStore.open(dir.resolve("noid.db"))) {
      String good = JoinService.createToken(store, clock, Duration.ofMinutes(10));
      try (Connection writer = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("noid.db"));
          Statement s = writer.createStatement()) {
        s.execute("PRAGMA busy_timeout=0");
        s.execute("BEGIN IMMEDIATE"); // holds the write lock

        assertThat(store.consumeJoinToken(Tokens.sha256("noid_join_guess"), clock.instant()))
            .isFalse();
        s.execute("ROLLBACK");
      }
      assertThat(store.consumeJoinToken(Tokens.sha256(good), clock.instant())).isTrue();
    }
  }
}
