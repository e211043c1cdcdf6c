package dev.noid.client;

/** Receives a watch's events, one at a time, in revision order. */
public interface WatchListener<T> {
  void onEvent(WatchEvent<T> event);

  /**
   * The watch ended for good: closed by the caller (null), or refused for a reason a
   * reconnect cannot fix (authentication, permission, bad request).
   */
  default void onEnd(NoidException error) {}
}
