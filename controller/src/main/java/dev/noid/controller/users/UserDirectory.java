package dev.noid.controller.users;

import dev.noid.common.naming.ResourceNames;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.NoidException.Code;
import dev.noid.controller.store.Store;
import dev.noid.controller.store.UserRow;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;

/** Users and their tokens: add, remove, rotate, list, and authenticate a presented token. */
public final class UserDirectory {
  public static final String ROLE_ADMIN = "admin";
  public static final String ROLE_USER = "user";

  private final Store store;
  private final LoginLimiter limiter;
  private final Clock clock;

  private final List<BiConsumer<String, String>> revocationListeners =
      new CopyOnWriteArrayList<>();
  /** Rotations, revocations and removals so far: see {@link #revocations()}. */
  private final AtomicLong revocations = new AtomicLong();
  /** Guards {@link #known} with the store writes it follows. */
  private final Object tokensLock = new Object();
  /** Each user's token hash as last seen or written here; null before the first check. */
  private Map<String, String> known;

  public UserDirectory(Store store, LoginLimiter limiter, Clock clock) {
    this.store = store;
    this.limiter = limiter;
    this.clock = clock;
  }

  /**
   * Calls {@code listener} with a user's name and why, whenever what their old token opened
   * must end: on rotate, revoke and remove (issue 19 M5: streams outlived all three).
   */
  public void onRevocation(BiConsumer<String, String> listener) {
    revocationListeners.add(listener);
  }

  private void revoked(String name, String why) {
    revocations.incrementAndGet();
    // Each on its own: one that fails (a store read) must not keep the others, ending the old
    // token's streams among them, from running, nor fail the rotation that is done already.
    for (BiConsumer<String, String> l : revocationListeners) {
      try {
        l.accept(name, why);
      } catch (RuntimeException e) {
        org.slf4j.LoggerFactory.getLogger(UserDirectory.class).warn(
            "after the token change of user {}: {}", name, e.toString());
      }
    }
  }

  /** The new user's token, shown once. */
  public record Added(UserRow user, String token) {}

  public Added add(String name, String role) {
    String problem = ResourceNames.problem("name", name);
    if (problem != null) {
      throw NoidException.invalid(problem);
    }
    if (!ROLE_ADMIN.equals(role) && !ROLE_USER.equals(role)) {
      throw NoidException.invalid("role must be 'admin' or 'user'; got '" + role + "'");
    }
    String token = Tokens.generate();
    UserRow row = new UserRow(name, role, Tokens.sha256(token), Tokens.displayPrefix(token),
        clock.instant());
    synchronized (tokensLock) {
      if (!store.insertUser(row)) {
        throw new NoidException(Code.ALREADY_EXISTS, "user '" + name + "' already exists");
      }
      written(name, row.tokenHash());
    }
    return new Added(row, token);
  }

  public String rotate(String name) {
    require(name);
    String token = Tokens.generate();
    replaceToken(name, token);
    revoked(name, "the token of user '" + name + "' was rotated");
    return token;
  }

  private void replaceToken(String name, String token) {
    // Counted before the write too: a call authenticated after this count but before the
    // write must not pass its later check on a count that moves no more.
    revocations.incrementAndGet();
    String hash = Tokens.sha256(token);
    synchronized (tokensLock) {
      store.updateUserToken(name, hash, Tokens.displayPrefix(token));
      written(name, hash);
    }
  }

  /** What this directory wrote itself, so that {@link #checkForChangesElsewhere} skips it. */
  private void written(String name, String tokenHash) {
    if (known != null) {
      if (tokenHash == null) {
        known.remove(name);
      } else {
        known.put(name, tokenHash);
      }
    }
  }

  /**
   * Ends what old tokens opened when a user's token changed in the store without this
   * directory: by a host command ({@code noid-controller users rotate}) beside a running
   * controller, or on the leader, for a follower. Called every second; the first call only
   * learns the tokens.
   */
  public void checkForChangesElsewhere() {
    List<String> changed = new ArrayList<>();
    synchronized (tokensLock) {
      Map<String, String> now = new HashMap<>();
      store.users().forEach(u -> now.put(u.name(), u.tokenHash()));
      if (known != null) {
        known.forEach((user, hash) -> {
          if (!Objects.equals(now.get(user), hash)) {
            changed.add(user);
          }
        });
      }
      known = now;
    }
    changed.forEach(u -> revoked(u, "the token of user '" + u + "' was rotated or revoked"));
  }

  /**
   * From now on no token authenticates as {@code name}: the first step of removing the user,
   * which may take several tries while its VMs are destroyed (issue 19 M5).
   */
  public void revoke(String name) {
    require(name);
    replaceToken(name, Tokens.generate());
    revoked(name, "user '" + name + "' is being removed");
  }

  /**
   * Removes the user, who must own no VM or checkpoint (WRONG_STATE naming the way that
   * removes those too: theirs run or lie on nodes that only the controller reaches).
   */
  public void remove(String name) {
    require(name);
    revocations.incrementAndGet(); // as in replaceToken
    synchronized (tokensLock) {
      if (!store.deleteUser(name)) {
        throw new NoidException(Code.WRONG_STATE, "user '" + name + "' still owns VMs or"
            + " checkpoints: remove the user through the API (UserService/RemoveUser), which"
            + " destroys them on their nodes first");
      }
      written(name, null);
    }
    revoked(name, "user '" + name + "' was removed");
  }

  public List<UserRow> list() {
    return store.users();
  }

  public UserRow require(String name) {
    return store.user(name).orElseThrow(() -> NoidException.notFound("user '" + name + "' not found"));
  }

  /**
   * Counts this directory's rotations, revocations and removals. A call authenticated when it
   * opened, whose request comes later, is checked again ({@link #stillAuthenticates}) only if
   * this moved in between: read before {@link #authenticate}, it cannot miss one.
   */
  public long revocations() {
    return revocations.get();
  }

  /**
   * Whether {@code token} still authenticates as {@code who}: for a call whose request came
   * after it was authenticated. Not a login, so not counted by the limiter.
   */
  public boolean stillAuthenticates(String token, Principal who) {
    if (!Tokens.wellFormed(token)) {
      return false;
    }
    String hash = Tokens.sha256(token);
    return store.userByTokenHash(hash).filter(u -> Tokens.sameHash(u.tokenHash(), hash)
        && u.name().equals(who.name()) && ROLE_ADMIN.equals(u.role()) == who.admin()).isPresent();
  }

  /**
   * Who holds {@code token}, presented by {@code caller} (the peer's address). A valid token
   * always authenticates, whatever others (or this caller) failed before: the token is checked
   * first, and the limiter only throttles failures. The lookup is by hash (an index, not a
   * scan) and the stored hash is compared again in constant time.
   */
  public Principal authenticate(String token, String caller) {
    if (Tokens.wellFormed(token)) {
      String hash = Tokens.sha256(token);
      Optional<UserRow> user = store.userByTokenHash(hash);
      if (user.isPresent() && Tokens.sameHash(user.get().tokenHash(), hash)) {
        return new Principal(user.get().name(), ROLE_ADMIN.equals(user.get().role()),
            user.get().created());
      }
    }
    // Refusals while blocked are not counted: the block ends one window after the failures.
    if (limiter.blocked(caller)) {
      throw new NoidException(Code.TOO_MANY_ATTEMPTS,
          "too many failed logins from this address; try again in a minute");
    }
    limiter.recordFailure(caller);
    if (!Tokens.wellFormed(token)) {
      throw new NoidException(Code.UNAUTHENTICATED, "invalid token: expected 'noid_tok_' + 64 hex"
          + " characters in 'authorization: Bearer <token>'");
    }
    throw new NoidException(Code.UNAUTHENTICATED, "unknown or revoked token");
  }
}
