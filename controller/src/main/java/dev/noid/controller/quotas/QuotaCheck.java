package dev.noid.controller.quotas;

/**
 * The question a table asks before it takes something new for a user: may {@code owner}, who
 * holds {@code held}, take {@code asked} as well? QUOTA_EXCEEDED naming the quota if not.
 */
public interface QuotaCheck {
  QuotaCheck NONE = (owner, held, asked) -> { };

  void require(String owner, Usage held, Usage asked);
}
