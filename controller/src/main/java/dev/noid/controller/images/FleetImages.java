package dev.noid.controller.images;

import dev.noid.controller.domain.NoidException;
import dev.noid.controller.images.importing.ImageKernel;
import dev.noid.controller.nodes.NodeEntry;
import dev.noid.controller.nodes.NodeRegistry;
import dev.noid.controller.store.ImageRow;
import dev.noid.controller.store.Store;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The fleet's images: names recorded in the store, each pointing at a digest whose file
 * {@link ImageBlobs} holds. Read on every create, so kept in memory as well (the store is
 * written first).
 */
public final class FleetImages implements ImagePins {
  private final Store store;
  private final ImageBlobs blobs;
  private final ImageUsers users;
  private final NodeRegistry nodes;
  private final Clock clock;
  private final Map<String, FleetImage> byName = new ConcurrentHashMap<>();
  private volatile Set<String> knownLocal = Set.of();
  /** When each digest was last pinned: a create's VM is stored a moment after its pin. */
  private final Map<String, Instant> pinnedAt = new ConcurrentHashMap<>();
  /** Digests no name points at whose files wait for creates that may have pinned them. */
  private final Set<String> unreferenced = ConcurrentHashMap.newKeySet();

  /** How long a pinned digest's file is kept although no name or stored VM uses it yet. */
  static final java.time.Duration PIN_GRACE = java.time.Duration.ofMinutes(10);

  public FleetImages(Store store, ImageBlobs blobs, ImageUsers users, NodeRegistry nodes,
      Clock clock) {
    this.store = store;
    this.blobs = blobs;
    this.users = users;
    this.nodes = nodes;
    this.clock = clock;
    for (ImageRow r : store.images()) {
      byName.put(r.name(), new FleetImage(r.name(), r.digest(), r.sizeBytes(), r.origin(),
          r.architecture(), Instant.ofEpochMilli(r.createdMs()),
          new ImageKernel(r.kernel(), r.kernelSha256(), r.modulesSha256())));
    }
    // Files a crash left without a name (a remove deferred for a create's pin): the next
    // record or remove takes those that nothing came to use.
    for (String digest : blobs.digests()) {
      if (byDigest(digest).isEmpty()) {
        unreferenced.add(digest);
      }
    }
  }

  public List<FleetImage> list() {
    return new TreeMap<>(byName).values().stream().toList();
  }

  public FleetImage get(String name) {
    FleetImage image = byName.get(name);
    if (image == null) {
      // Only fleet images: node-local ones (such as dev) have no record to show.
      throw NoidException.notFound("image '" + name + "' not found (fleet images: "
          + (byName.isEmpty() ? "none" : String.join(", ", new TreeMap<>(byName).keySet())) + ")");
    }
    return image;
  }

  public Optional<FleetImage> byDigest(String digest) {
    return byName.values().stream().filter(i -> i.digest().equals(digest)).findFirst();
  }

  /** The nodes whose last report says they hold {@code digest}. */
  public List<String> holders(String digest) {
    return nodes.view().stream().filter(n -> n.images().contains(digest)).map(NodeEntry::name)
        .sorted().toList();
  }

  /**
   * Records {@code name} as the image whose file {@link ImageBlobs} now holds under
   * {@code digest}. ALREADY_EXISTS for a name in use, unless {@code replace}.
   */
  public synchronized FleetImage record(String name, String digest, long sizeBytes, String origin,
      String architecture, ImageKernel kernel, boolean replace) {
    sweep();
    FleetImage old = byName.get(name);
    if (old != null && !replace) {
      throw new NoidException(NoidException.Code.ALREADY_EXISTS, "image '" + name
          + "' exists (" + old.digest() + "): remove it first, or import with --replace");
    }
    FleetImage image = new FleetImage(name, digest, sizeBytes, origin, architecture,
        clock.instant(), kernel);
    store.putImage(new ImageRow(name, digest, sizeBytes, origin, architecture,
        image.created().toEpochMilli(), kernel.description(), kernel.kernelSha256(),
        kernel.modulesSha256()));
    byName.put(name, image);
    if (old != null) {
      dropFileIfUnused(old.digest());
    }
    return image;
  }

  /** Removes the name; its file too once no other name, VM or checkpoint needs it. */
  public synchronized void remove(String name) {
    FleetImage image = get(name);
    List<String> using = users.using(image.digest());
    if (!using.isEmpty()) {
      throw new NoidException(NoidException.Code.WRONG_STATE, "image '" + name
          + "' is in use by " + String.join(", ", using.subList(0, Math.min(10, using.size())))
          + (using.size() > 10 ? " and " + (using.size() - 10) + " more" : "")
          + ": destroy them first");
    }
    store.deleteImage(name);
    byName.remove(name);
    dropFileIfUnused(image.digest());
  }

  // A create may have pinned the digest and not stored its VM yet: such a file waits out the
  // grace period; VMs and checkpoints may still use it. A later record or remove takes it
  // once nothing does.
  private void dropFileIfUnused(String digest) {
    unreferenced.add(digest);
    sweep();
  }

  private void sweep() {
    Instant graceStart = clock.instant().minus(PIN_GRACE);
    for (String digest : List.copyOf(unreferenced)) {
      if (byDigest(digest).isPresent()) {
        unreferenced.remove(digest);
      } else if (users.using(digest).isEmpty()
          && pinnedAt.getOrDefault(digest, Instant.MIN).isBefore(graceStart)) {
        blobs.delete(digest);
        unreferenced.remove(digest);
      }
    }
  }

  /**
   * Runs {@code adopt} (which moves an imported image's files in under {@code digest}) and
   * records the name, both under this object's lock: a remove of another name with the same
   * digest must not drop the files in between.
   */
  public synchronized FleetImage adoptAndRecord(Runnable adopt, String name, String digest,
      long sizeBytes, String origin, String architecture, ImageKernel kernel, boolean replace) {
    adopt.run();
    unreferenced.remove(digest);
    return record(name, digest, sizeBytes, origin, architecture, kernel, replace);
  }

  @Override
  public String pin(String requested) {
    // The lookup and the pin are one step under remove's lock: a remove in between would find
    // the file unpinned and unused, and delete it under the create that was handed its digest.
    synchronized (this) {
      if (requested.contains("@")) {
        String digest = ImageRefs.digestOf(requested);
        if (!ImageRefs.isDigest(digest) || !blobs.has(digest)) {
          throw notFound("image '" + requested + "'");
        }
        pinnedAt.put(digest, clock.instant());
        return requested;
      }
      FleetImage image = byName.get(requested);
      if (image != null) {
        pinnedAt.put(image.digest(), clock.instant());
        return image.pinned();
      }
    }
    // Every create of a node-local image comes here: the names nodes reported are looked at
    // again only when one is not among those seen before (a scan of every node is O(nodes)).
    if (knownLocal.contains(requested)) {
      return requested;
    }
    TreeSet<String> local = nodeLocalNames();
    knownLocal = Set.copyOf(local);
    if (!local.contains(requested) && reportsImages()) {
      throw notFound("image '" + requested + "'");
    }
    return requested;
  }

  private boolean reportsImages() {
    return nodes.view().stream().anyMatch(n -> !n.images().isEmpty());
  }

  private TreeSet<String> nodeLocalNames() {
    TreeSet<String> names = new TreeSet<>();
    for (NodeEntry n : nodes.view()) {
      n.images().stream().filter(i -> !ImageRefs.isDigest(i)).forEach(names::add);
    }
    return names;
  }

  private NoidException notFound(String what) {
    TreeSet<String> all = nodeLocalNames();
    all.addAll(byName.keySet());
    return NoidException.notFound(what + " not found (images: "
        + (all.isEmpty() ? "none" : String.join(", ", all)) + ")");
  }
}
