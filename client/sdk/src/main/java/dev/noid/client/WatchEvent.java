package dev.noid.client;

/**
 * One event of a watch. A watch starts with an {@code EXISTING} event per item, then
 * {@code SYNCED}, then changes. After a reconnect it carries on with the changes missed
 * meanwhile or, when the controller no longer has them, with {@code EXISTING} events for
 * every item and another {@code SYNCED}: a listener that keeps a view replaces it then.
 *
 * @param type what happened
 * @param item the VM or node as it is after the change (as it was, for DELETED); null for SYNCED
 * @param revision the change's revision; for SYNCED, the revision the view is complete up to
 * @param <T> {@code Vm} or {@code Node}
 */
public record WatchEvent<T>(Type type, T item, long revision) {
  /** The kinds of watch event. */
  public enum Type { EXISTING, SYNCED, ADDED, MODIFIED, DELETED }
}
