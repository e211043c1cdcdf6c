package dev.noid.controller.vms.store;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The VMs or checkpoints this controller deleted, most recent {@value #KEPT}. A node that
 * reports one later holds a copy no record stands for: a create retried on another node while
 * this one was cut off, a copy that landed after its caller gave up, and then the VM or
 * checkpoint deleted (or its user removed). One the controller has no record of at all may be a
 * wrong store's doing and is left alone; one it deleted itself is a stray. Kept in memory: after
 * a restart such a copy is left alone again, and logged.
 */
final class DeletedIds {
  static final int KEPT = 100_000;

  private final Map<String, Instant> byId = new LinkedHashMap<>() {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, Instant> eldest) {
      return size() > KEPT;
    }
  };

  synchronized void add(String id, Instant when) {
    byId.put(id, when);
  }

  synchronized Optional<Instant> when(String id) {
    return Optional.ofNullable(byId.get(id));
  }
}
