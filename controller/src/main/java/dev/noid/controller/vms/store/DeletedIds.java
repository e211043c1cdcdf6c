package dev.noid.controller.vms.store;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The VMs or checkpoints the store deleted, most recent {@value #KEPT}. A node that
 * reports one later holds a copy no record stands for: a create retried on another node while
 * this one was cut off, a copy that landed after its caller gave up, and then the VM or
 * checkpoint deleted (or its user removed). One the controller has no record of at all may be a
 * wrong store's doing and is left alone; one its store deleted is a stray. The store keeps them
 * too ({@code Store#deletedIds}): a controller that starts reads them back, as deleted when it
 * started, so a stray goes a lease after that.
 */
final class DeletedIds {
  static final int KEPT = 100_000;

  private final Map<String, Instant> byId = new LinkedHashMap<>() {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, Instant> eldest) {
      return size() > KEPT;
    }
  };

  /** The store's latest deletes of {@code kind}, as deleted at {@code now}. */
  static DeletedIds of(dev.noid.controller.store.Store store, String kind, Instant now) {
    DeletedIds d = new DeletedIds();
    java.util.List<String> newestFirst = store.deletedIds(kind, KEPT);
    for (int i = newestFirst.size() - 1; i >= 0; i--) {
      d.add(newestFirst.get(i), now);
    }
    return d;
  }

  synchronized void add(String id, Instant when) {
    byId.put(id, when);
  }

  synchronized Optional<Instant> when(String id) {
    return Optional.ofNullable(byId.get(id));
  }
}
