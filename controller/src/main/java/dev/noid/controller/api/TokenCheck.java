package dev.noid.controller.api;

import dev.noid.controller.users.Principal;
import dev.noid.controller.users.UserDirectory;

/**
 * The token a call authenticated with, checked again: only when a rotation, revocation or
 * removal happened since the last check does this read the store (issue 19 M5).
 */
final class TokenCheck {
  private final UserDirectory users;
  private final String token;
  private final Principal principal;
  private long checkedAt;

  TokenCheck(UserDirectory users, String token, Principal principal, long checkedAt) {
    this.users = users;
    this.token = token;
    this.principal = principal;
    this.checkedAt = checkedAt;
  }

  /** True if the token still authenticates as the call's principal; a store failure throws. */
  synchronized boolean stillHolds() {
    long now = users.revocations();
    if (now == checkedAt) {
      return true;
    }
    if (users.stillAuthenticates(token, principal)) {
      checkedAt = now;
      return true;
    }
    return false;
  }
}
