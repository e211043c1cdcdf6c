package dev.noid.controller.users;

import dev.noid.controller.MutableClock;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.noid.controller.api.GrpcStatusMapper;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.NoidException.Code;
import dev.noid.controller.store.SqliteStore;
import dev.noid.controller.store.Store;
import dev.noid.controller.store.UserRow;
import dev.noid.controller.store.VmRow;
import io.grpc.Status;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** UserDirectory on a real SQLite store, with the login limit of production (10 per caller per 60 s). */
class UserDirectoryTest {
  @TempDir
  Path dir;

  private final MutableClock clock = new MutableClock(Instant.parse("2026-05-01T10:00:00Z"));
  private static final String ALICE = "192.0.2.10";
  private static final String ATTACKER = "198.51.100.66";
  private Store store;
  private UserDirectory users;

  @BeforeEach
  void open() {
    store = SqliteStore.open(dir.resolve("noid.db"));
    users = new UserDirectory(store, new LoginLimiter(10, Duration.ofSeconds(60), clock), clock);
  }

  @AfterEach
  void close() {
    store.close();
  }

  private static NoidException failure(ThrowingCallable call) {
    NoidException e = catchThrowableOfType(NoidException.class, call);
    assertThat(e).as("expected a NoidException").isNotNull();
    return e;
  }

  /** A well-formed token that shares {@code token}'s display prefix but is not it. */
  private static String samePrefixOtherToken(String token) {
    String other = token.substring(0, Tokens.DISPLAY_PREFIX_LENGTH)
        + "0".repeat(token.length() - Tokens.DISPLAY_PREFIX_LENGTH);
    assertThat(other).isNotEqualTo(token);
    return other;
  }

  // ------------------------------------------------------------------ changes elsewhere

  /** The host command {@code noid-controller users rotate} is a second directory on the store. */
  private UserDirectory hostCommand() {
    return new UserDirectory(store, new LoginLimiter(10, Duration.ofSeconds(60), clock), clock);
  }

  @Test
  void aTokenRotatedBesideTheControllerEndsWhatItOpenedAtTheNextCheck() {
    users.add("bob", "user");
    users.add("carol", "user");
    List<String> ended = new ArrayList<>();
    users.onRevocation((name, why) -> ended.add(name + ": " + why));
    users.checkForChangesElsewhere();
    long before = users.revocations();

    hostCommand().rotate("bob");
    users.checkForChangesElsewhere();
    users.checkForChangesElsewhere();

    assertThat(ended).containsExactly("bob: the token of user 'bob' was rotated or revoked");
    assertThat(users.revocations()).isGreaterThan(before);
  }

  @Test
  void whatThisDirectoryChangedItselfIsNotEndedAgainByTheCheck() {
    users.add("bob", "user");
    List<String> ended = new ArrayList<>();
    users.onRevocation((name, why) -> ended.add(name));
    users.checkForChangesElsewhere();

    users.rotate("bob");
    users.add("dave", "user");
    users.checkForChangesElsewhere();

    assertThat(ended).containsExactly("bob");
  }

  @Test
  void aUserWhoStillOwnsAVmIsNotRemovedAndTheErrorSaysHowToRemoveThem() {
    users.add("bob", "user");
    store.insertVm(new VmRow("vm-1", "bob", "web", "node-a", "RUNNING", 1, "{\"id\":\"vm-1\"}"));

    NoidException e = failure(() -> hostCommand().remove("bob"));

    assertThat(e.code()).isEqualTo(Code.WRONG_STATE);
    assertThat(e.getMessage()).isEqualTo("user 'bob' still owns VMs or checkpoints: remove the"
        + " user through the API (UserService/RemoveUser), which destroys them on their nodes"
        + " first");
    assertThat(users.list()).extracting(UserRow::name).containsExactly("bob");
    assertThat(store.vms()).hasSize(1);
  }

  // ------------------------------------------------------------------ revoke

  /** Issue 19 M5: a user being removed must lose access at once, even if the removal takes tries. */
  @Test
  void aRevokedUsersTokenNoLongerAuthenticatesThoughTheUserStillExists() {
    String token = users.add("bob", UserDirectory.ROLE_USER).token();

    users.revoke("bob");

    assertThat(failure(() -> users.authenticate(token, ALICE)).code()).isEqualTo(Code.UNAUTHENTICATED);
    assertThat(users.require("bob").name()).isEqualTo("bob");
  }

  // ------------------------------------------------------------------ add

  @Test
  void addedUsersTokenAuthenticatesAsThatUser() {
    String adminToken = users.add("alice", UserDirectory.ROLE_ADMIN).token();
    String userToken = users.add("bob", UserDirectory.ROLE_USER).token();

    assertThat(users.authenticate(adminToken, ALICE)).isEqualTo(principal("alice", true));
    assertThat(users.authenticate(userToken, ALICE)).isEqualTo(principal("bob", false));
  }

  @Test
  void addStoresOnlyTheTokensHashAndDisplayPrefix() {
    UserDirectory.Added added = users.add("alice", UserDirectory.ROLE_USER);

    UserRow stored = store.user("alice").orElseThrow();
    assertThat(stored.tokenHash()).isEqualTo(Tokens.sha256(added.token()))
        .isNotEqualTo(added.token());
    assertThat(stored.tokenPrefix()).isEqualTo(added.token().substring(0, 12));
    assertThat(stored.created()).isEqualTo(clock.instant());
    assertThat(stored.role()).isEqualTo("user");
  }

  @Test
  void addRefusesAnInvalidName() {
    NoidException e = failure(() -> users.add("Alice_1", UserDirectory.ROLE_USER));

    assertThat(e.code()).isEqualTo(Code.INVALID_ARGUMENT);
    assertThat(e.getMessage()).contains("name 'Alice_1' is not a DNS label");
    assertThat(store.users()).isEmpty();
  }

  @Test
  void addRefusesAnEmptyName() {
    NoidException e = failure(() -> users.add("", UserDirectory.ROLE_USER));

    assertThat(e.code()).isEqualTo(Code.INVALID_ARGUMENT);
    assertThat(e.getMessage()).isEqualTo("name is required");
  }

  @Test
  void addRefusesAnUnknownRole() {
    NoidException e = failure(() -> users.add("alice", "root"));

    assertThat(e.code()).isEqualTo(Code.INVALID_ARGUMENT);
    assertThat(e.getMessage()).isEqualTo("role must be 'admin' or 'user'; got 'root'");
    assertThat(store.users()).isEmpty();
  }

  @Test
  void addRefusesATakenName() {
    String first = users.add("alice", UserDirectory.ROLE_USER).token();

    NoidException e = failure(() -> users.add("alice", UserDirectory.ROLE_ADMIN));

    assertThat(e.code()).isEqualTo(Code.ALREADY_EXISTS);
    assertThat(e.getMessage()).contains("'alice'");
    assertThat(users.authenticate(first, ALICE)).isEqualTo(principal("alice", false));
  }

  // ------------------------------------------------------------------ authenticate

  @Test
  void wrongTokenIsUnauthenticated() {
    users.add("alice", UserDirectory.ROLE_USER);

    NoidException e = failure(() -> users.authenticate(Tokens.generate(), ALICE));

    assertThat(e.code()).isEqualTo(Code.UNAUTHENTICATED);
    assertThat(e.getMessage()).isEqualTo("unknown or revoked token");
  }

  @Test
  void malformedTokenIsUnauthenticatedAndSaysTheExpectedForm() {
    users.add("alice", UserDirectory.ROLE_USER);

    for (String malformed : new String[] {"noid_tok_xyz", "Bearer noid_tok_", "", null}) {
      NoidException e = failure(() -> users.authenticate(malformed, ALICE));

      assertThat(e.code()).as("%s", malformed).isEqualTo(Code.UNAUTHENTICATED);
      assertThat(e.getMessage()).as("%s", malformed).contains("'noid_tok_' + 64 hex");
    }
  }

  @Test
  void tenFailuresFromACallerThrottleItsFurtherBadTokensButNeverTheRightOne() {
    String token = users.add("alice", UserDirectory.ROLE_USER).token();
    String guess = samePrefixOtherToken(token);
    for (int i = 0; i < 10; i++) {
      assertThat(failure(() -> users.authenticate(guess, ATTACKER)).code())
          .isEqualTo(Code.UNAUTHENTICATED);
    }

    NoidException blocked = failure(() -> users.authenticate(guess, ATTACKER));

    assertThat(blocked.code()).isEqualTo(Code.TOO_MANY_ATTEMPTS);
    assertThat(GrpcStatusMapper.toStatus(blocked).getStatus().getCode())
        .isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    // The right token works from the throttled address itself (a user behind the same NAT)...
    assertThat(users.authenticate(token, ATTACKER)).isEqualTo(principal("alice", false));
    // ...and from anywhere else.
    assertThat(users.authenticate(token, ALICE)).isEqualTo(principal("alice", false));
    clock.advance(Duration.ofSeconds(59));
    assertThat(failure(() -> users.authenticate(guess, ATTACKER)).code())
        .isEqualTo(Code.TOO_MANY_ATTEMPTS);

    clock.advance(Duration.ofSeconds(1));

    assertThat(failure(() -> users.authenticate(guess, ATTACKER)).code())
        .isEqualTo(Code.UNAUTHENTICATED);
  }

  @Test
  void refusedAttemptsWhileBlockedDoNotExtendTheBlock() {
    String guess = samePrefixOtherToken(users.add("alice", UserDirectory.ROLE_USER).token());
    for (int i = 0; i < 10; i++) {
      failure(() -> users.authenticate(guess, ATTACKER));
    }
    clock.advance(Duration.ofSeconds(30));
    for (int i = 0; i < 5; i++) {
      assertThat(failure(() -> users.authenticate(guess, ATTACKER)).code())
          .isEqualTo(Code.TOO_MANY_ATTEMPTS);
    }

    clock.advance(Duration.ofSeconds(30));

    assertThat(failure(() -> users.authenticate(guess, ATTACKER)).code())
        .isEqualTo(Code.UNAUTHENTICATED);
  }

  @Test
  void oneCallersFailuresDoNotThrottleAnotherCallersBadTokens() {
    String guess = samePrefixOtherToken(users.add("alice", UserDirectory.ROLE_USER).token());
    for (int i = 0; i < 10; i++) {
      failure(() -> users.authenticate(guess, ATTACKER));
    }

    assertThat(failure(() -> users.authenticate(guess, ALICE)).code())
        .isEqualTo(Code.UNAUTHENTICATED);
  }

  @Test
  void malformedTokensNeverCountAgainstAValidToken() {
    String token = users.add("alice", UserDirectory.ROLE_USER).token();
    for (int i = 0; i < 50; i++) {
      failure(() -> users.authenticate(Tokens.displayPrefix(token), ALICE));
    }

    assertThat(users.authenticate(token, ALICE)).isEqualTo(principal("alice", false));
  }

  // ------------------------------------------------------------------ rotate, remove

  @Test
  void rotateInvalidatesTheOldTokenAndTheNewOneWorks() {
    String old = users.add("alice", UserDirectory.ROLE_ADMIN).token();

    String fresh = users.rotate("alice");

    assertThat(fresh).isNotEqualTo(old);
    assertThat(Tokens.wellFormed(fresh)).isTrue();
    assertThat(users.authenticate(fresh, ALICE)).isEqualTo(principal("alice", true));
    NoidException e = failure(() -> users.authenticate(old, ALICE));
    assertThat(e.code()).isEqualTo(Code.UNAUTHENTICATED);
    assertThat(store.user("alice").orElseThrow().tokenPrefix())
        .isEqualTo(Tokens.displayPrefix(fresh));
  }

  @Test
  void rotatingAnUnknownUserIsNotFound() {
    NoidException e = failure(() -> users.rotate("nobody"));

    assertThat(e.code()).isEqualTo(Code.NOT_FOUND);
    assertThat(e.getMessage()).isEqualTo("user 'nobody' not found");
  }

  @Test
  void removedUsersTokenNoLongerAuthenticates() {
    String token = users.add("alice", UserDirectory.ROLE_USER).token();
    users.add("bob", UserDirectory.ROLE_USER);

    users.remove("alice");

    assertThat(failure(() -> users.authenticate(token, ALICE)).code()).isEqualTo(Code.UNAUTHENTICATED);
    assertThat(users.list()).extracting(UserRow::name).containsExactly("bob");
    assertThat(failure(() -> users.remove("alice")).code()).isEqualTo(Code.NOT_FOUND);
  }

  /** The principal a token of {@code name} should authenticate as: with the user's creation. */
  private Principal principal(String name, boolean admin) {
    return new Principal(name, admin, users.require(name).created());
  }
}
