package dev.noid.controller.vms.store;

import dev.noid.controller.vms.CheckpointEntry;
import dev.noid.controller.store.CheckpointRow;
import dev.noid.controller.store.Store;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/** Checkpoints in memory, written through to the store. */
public final class CheckpointTable {
  private final Store store;
  private final Map<String, CheckpointEntry> byId = new ConcurrentHashMap<>();

  public CheckpointTable(Store store) {
    this.store = store;
    for (CheckpointRow row : store.checkpoints()) {
      try {
        CheckpointEntry e = VmTable.JSON.readValue(row.document(), CheckpointEntry.class);
        byId.put(e.id(), e);
      } catch (IOException ex) {
        throw new UncheckedIOException(ex);
      }
    }
  }

  public void put(CheckpointEntry e) {
    try {
      store.putCheckpoint(new CheckpointRow(e.id(), e.owner(), e.vmId(), e.node(),
          VmTable.JSON.writeValueAsString(e)));
    } catch (IOException ex) {
      throw new UncheckedIOException(ex);
    }
    byId.put(e.id(), e);
  }

  public void delete(String id) {
    store.deleteCheckpoint(id);
    byId.remove(id);
  }

  public Optional<CheckpointEntry> get(String id) {
    return Optional.ofNullable(byId.get(id));
  }

  public List<CheckpointEntry> ownedBy(String owner) {
    return byId.values().stream().filter(c -> c.owner().equals(owner))
        .sorted(Comparator.comparing(CheckpointEntry::created)).toList();
  }

  public List<CheckpointEntry> all() {
    return List.copyOf(byId.values());
  }

  public void forgetOwner(String owner) {
    byId.values().removeIf(c -> c.owner().equals(owner));
  }
}
