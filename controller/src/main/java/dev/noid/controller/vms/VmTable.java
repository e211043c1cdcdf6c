package dev.noid.controller.vms;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.NoidException.Code;
import dev.noid.controller.store.Store;
import dev.noid.controller.store.VmRow;
import dev.noid.controller.watch.ChangeFeed;
import dev.noid.controller.watch.Watchable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Every VM, in memory for fast reads and written through to the store before a change is
 * visible (desired state is durable before any agent is called). Each change gets the next
 * revision number, the order WatchVms replays in.
 */
public final class VmTable implements Watchable<VmEntry> {
  static final ObjectMapper JSON = JsonMapper.builder().addModule(new JavaTimeModule()).build();

  private final Store store;
  private final Clock clock;
  private final Map<String, VmEntry> byId = new ConcurrentHashMap<>();
  private final Map<String, String> idByOwnerName = new ConcurrentHashMap<>();
  private final AtomicLong revision = new AtomicLong();
  private final ChangeFeed<VmEntry> events;

  public VmTable(Store store, Clock clock) {
    this.store = store;
    this.clock = clock;
    for (VmRow row : store.vms()) {
      VmEntry e = read(row.document());
      byId.put(e.id(), e);
      idByOwnerName.put(key(e.owner(), e.name()), e.id());
      revision.accumulateAndGet(e.revision(), Math::max);
    }
    events = new ChangeFeed<>(10_000, revision.get());
  }

  private static String key(String owner, String name) {
    return owner + "/" + name;
  }

  /** Stores a new VM; ALREADY_EXISTS if the owner has one of that name. */
  public synchronized VmEntry insert(VmEntry e) {
    VmEntry stamped = e.stamped(revision.incrementAndGet(), clock.instant());
    if (idByOwnerName.containsKey(key(e.owner(), e.name())) || !store.insertVm(row(stamped))) {
      throw new NoidException(Code.ALREADY_EXISTS, "VM '" + e.name() + "' already exists");
    }
    byId.put(stamped.id(), stamped);
    idByOwnerName.put(key(e.owner(), e.name()), stamped.id());
    events.publish(new ChangeFeed.Event<>(stamped.revision(), ChangeFeed.Type.ADDED, stamped));
    return stamped;
  }

  public synchronized VmEntry update(VmEntry e) {
    if (!byId.containsKey(e.id())) {
      throw NoidException.notFound("VM '" + e.name() + "' not found");
    }
    VmEntry stamped = e.stamped(revision.incrementAndGet(), clock.instant());
    store.updateVm(row(stamped));
    byId.put(stamped.id(), stamped);
    events.publish(new ChangeFeed.Event<>(stamped.revision(), ChangeFeed.Type.MODIFIED, stamped));
    return stamped;
  }

  public synchronized void delete(VmEntry e) {
    store.deleteVm(e.id());
    byId.remove(e.id());
    idByOwnerName.remove(key(e.owner(), e.name()));
    events.publish(new ChangeFeed.Event<>(revision.incrementAndGet(), ChangeFeed.Type.DELETED, e));
  }

  @Override
  public synchronized ChangeFeed.Watch<VmEntry> watch(long since,
      Consumer<ChangeFeed.Event<VmEntry>> subscriber) {
    return events.watch(since, this::all, subscriber);
  }

  @Override
  public void unwatch(Consumer<ChangeFeed.Event<VmEntry>> subscriber) {
    events.unsubscribe(subscriber);
  }

  public Optional<VmEntry> byId(String id) {
    return Optional.ofNullable(byId.get(id));
  }

  public Optional<VmEntry> find(String owner, String name) {
    String id = idByOwnerName.get(key(owner, name));
    return id == null ? Optional.empty() : Optional.ofNullable(byId.get(id));
  }

  public List<VmEntry> all() {
    List<VmEntry> out = new ArrayList<>(byId.values());
    out.sort(Comparator.comparing(VmEntry::owner).thenComparing(VmEntry::name));
    return out;
  }

  public List<VmEntry> ownedBy(String owner) {
    return all().stream().filter(e -> e.owner().equals(owner)).toList();
  }

  public void forgetOwner(String owner) {
    for (VmEntry e : ownedBy(owner)) {
      byId.remove(e.id());
      idByOwnerName.remove(key(e.owner(), e.name()));
    }
  }

  private static VmRow row(VmEntry e) {
    try {
      return new VmRow(e.id(), e.owner(), e.name(), e.node(), e.state().name(), e.revision(),
          JSON.writeValueAsString(e));
    } catch (IOException ex) {
      throw new UncheckedIOException(ex);
    }
  }

  private static VmEntry read(String json) {
    try {
      return JSON.readValue(json, VmEntry.class);
    } catch (IOException ex) {
      throw new UncheckedIOException(ex);
    }
  }
}
