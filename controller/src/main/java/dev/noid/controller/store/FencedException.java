package dev.noid.controller.store;

/**
 * A write by a controller that no longer leads: a newer epoch holds the lease, or this
 * controller stepped down. Nothing of the write was applied; the caller retries on the leader.
 */
public final class FencedException extends StoreException {
  public FencedException(String message) {
    super(message, null);
  }
}
