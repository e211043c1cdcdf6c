package dev.noid.controller.vms.store;

import dev.noid.controller.vms.CheckpointEntry;
import dev.noid.controller.store.CheckpointRow;
import dev.noid.controller.quotas.QuotaCheck;
import dev.noid.controller.quotas.Usage;
import dev.noid.controller.store.Store;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Checkpoints in memory, written through to the store. Every change of a checkpoint is made
 * under this table's lock from its current value, so two changes never lose one another
 * (issue 19 M4: two copies recorded from the same stale entry kept only one of them).
 */
public final class CheckpointTable {
  private final Store store;
  private final Map<String, CheckpointEntry> byId = new ConcurrentHashMap<>();
  private final QuotaCheck quotas;
  private final DeletedIds deleted;

  public CheckpointTable(Store store) {
    this(store, QuotaCheck.NONE);
  }

  public CheckpointTable(Store store, QuotaCheck quotas) {
    this.store = store;
    this.quotas = quotas;
    for (CheckpointRow row : store.checkpoints()) {
      try {
        CheckpointEntry e = VmTable.JSON.readValue(row.document(), CheckpointEntry.class);
        byId.put(e.id(), e);
      } catch (IOException ex) {
        throw new UncheckedIOException(ex);
      }
    }
    // After the rows: a checkpoint deleted in between is in one or the other, never in neither.
    this.deleted = DeletedIds.of(store, Store.DELETED_CHECKPOINT, java.time.Instant.now());
  }

  /**
   * Before a checkpoint is taken: QUOTA_EXCEEDED unless the owner may hold one more (and at
   * least one more byte). {@link #add} decides with the checkpoint's real size.
   */
  public synchronized void requireRoomFor(String owner) {
    quotas.require(owner, held(owner), new Usage(0, 0, 0, 1, 1));
  }

  /** Records a new checkpoint, or QUOTA_EXCEEDED (and nothing recorded) if it does not fit. */
  public synchronized void add(CheckpointEntry e) {
    quotas.require(e.owner(), held(e.owner()), Usage.ofCheckpoint(e.sizeBytes()));
    put(e);
  }

  /**
   * Records that checkpoint {@code id}, CREATING, was taken: READY with its size and duration,
   * checked against the owner's quota with its real size (QUOTA_EXCEEDED, and it stays
   * CREATING). Empty if it is CREATING no more (deleted meanwhile, or its node removed): the
   * caller removes its files. What else changed meanwhile (a durability its node reported) is
   * kept.
   */
  public synchronized Optional<CheckpointEntry> complete(String id, long sizeBytes,
      long durationMs) {
    CheckpointEntry cur = byId.get(id);
    if (cur == null || !cur.creating()) {
      return Optional.empty();
    }
    quotas.require(cur.owner(), heldBesides(cur.owner(), id), Usage.ofCheckpoint(sizeBytes));
    CheckpointEntry ready = cur.taken(sizeBytes, durationMs);
    put(ready);
    return Optional.of(ready);
  }

  /** Checkpoint {@code id} changed by {@code change} if it is still CREATING; else nothing. */
  public synchronized void updateIfCreating(String id,
      java.util.function.UnaryOperator<CheckpointEntry> change) {
    CheckpointEntry cur = byId.get(id);
    if (cur != null && cur.creating()) {
      put(change.apply(cur));
    }
  }

  /** Forgets checkpoint {@code id} if it is still CREATING: true if it did. */
  public synchronized boolean deleteIfCreating(String id) {
    CheckpointEntry cur = byId.get(id);
    if (cur == null || !cur.creating()) {
      return false;
    }
    delete(id);
    return true;
  }

  /** How many checkpoints the owner holds, and their bytes (every copy counts once). */
  public synchronized Usage held(String owner) {
    return heldBesides(owner, null);
  }

  private Usage heldBesides(String owner, String exceptId) {
    long count = 0;
    long bytes = 0;
    for (CheckpointEntry c : byId.values()) {
      if (c.owner().equals(owner) && !c.id().equals(exceptId)) {
        count++;
        bytes += c.sizeBytes();
      }
    }
    return new Usage(0, 0, 0, count, bytes);
  }

  public synchronized void put(CheckpointEntry e) {
    try {
      store.putCheckpoint(new CheckpointRow(e.id(), e.owner(), e.vmId(), e.node(),
          VmTable.JSON.writeValueAsString(e)));
    } catch (IOException ex) {
      throw new UncheckedIOException(ex);
    }
    byId.put(e.id(), e);
  }

  public synchronized void delete(String id) {
    store.deleteCheckpoint(id);
    // Marked deleted before it leaves the map: a reader never sees neither.
    deleted.add(id, java.time.Instant.now());
    byId.remove(id);
  }

  /** Whether checkpoint {@code id} was deleted recently ({@link DeletedIds}). */
  public boolean deletedRecently(String id) {
    return deleted.when(id).isPresent();
  }

  /**
   * Records that {@code node} holds a copy of checkpoint {@code id}, unless it is gone or being
   * deleted: then empty, and the copy is the caller's to remove.
   */
  public synchronized Optional<CheckpointEntry> addCopy(String id, String node) {
    return addCopy(id, node, n -> true);
  }

  /**
   * As {@link #addCopy(String, String)}, and empty if {@code nodeKnown} says the node is gone:
   * asked under the lock {@link #forgetNode} takes, so a node removed after its copy landed is
   * either refused here or forgotten there.
   */
  public synchronized Optional<CheckpointEntry> addCopy(String id, String node,
      java.util.function.Predicate<String> nodeKnown) {
    CheckpointEntry cur = byId.get(id);
    if (cur == null || !cur.ready() || !nodeKnown.test(node)) {
      return Optional.empty();
    }
    CheckpointEntry updated = cur.withCopyOn(node);
    put(updated);
    return Optional.of(updated);
  }

  /**
   * Marks checkpoint {@code id} DELETING (no copy is recorded from now on) and returns it with
   * every node that holds it; empty if there is no such checkpoint.
   */
  public synchronized Optional<CheckpointEntry> markDeleting(String id) {
    CheckpointEntry cur = byId.get(id);
    if (cur == null) {
      return Optional.empty();
    }
    CheckpointEntry deleting = cur.withState("DELETING", "delete in progress");
    put(deleting);
    return Optional.of(deleting);
  }

  /**
   * Records what {@code node} reported about checkpoint {@code id}'s durability; false if there
   * is no such checkpoint (the report came before the controller recorded it, or after its
   * deletion), {@code node} does not hold it (a node speaks only for its own checkpoints), or
   * nothing changed.
   */
  public synchronized boolean setDurability(String id, String node, String durability,
      String message) {
    CheckpointEntry cur = byId.get(id);
    if (cur == null || !cur.nodes().contains(node) || (cur.durability().equals(durability)
        && cur.durabilityMessage().equals(message))) {
      return false;
    }
    put(cur.withDurability(durability, message));
    return true;
  }

  /** Forgets the copies on a removed node (see {@link CheckpointEntry#withoutNode}). */
  public synchronized void forgetNode(String node) {
    for (CheckpointEntry e : List.copyOf(byId.values())) {
      if (e.nodes().contains(node)) {
        put(e.withoutNode(node));
      }
    }
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

}
