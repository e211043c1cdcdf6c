package dev.noid.controller.store;

/** The store failed (unreachable, corrupt); callers report UNAVAILABLE, never a made-up success. */
public class StoreException extends RuntimeException {
  public StoreException(String message, Throwable cause) {
    super(message, cause);
  }
}
