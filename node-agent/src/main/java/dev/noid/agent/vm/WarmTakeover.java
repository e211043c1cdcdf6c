package dev.noid.agent.vm;

import dev.noid.agent.golden.Golden;
import dev.noid.agent.golden.GoldenKey;
import dev.noid.agent.golden.WarmPool;
import dev.noid.agent.image.Image;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A create taking over a warm VM ({@link WarmPool}): the warm VM's directory becomes the new
 * VM's (renamed: its VMM's sockets, disk and logs are open or bound inside it and follow, and
 * so does the marker that names where its VMM was started, which its command line still names
 * and by which an agent recognises its VMMs), and the VM is watched as after a restore and
 * keeps the warm VM's open guest connection.
 * A warm VM with a NIC hands its address, MAC and TAP to the VM (its guest has them already).
 */
final class WarmTakeover {
  private static final Logger log = LoggerFactory.getLogger(WarmTakeover.class);

  private final VmmSupervisor vmms;
  private final WarmPool pool;
  private final GuestSetup guests;

  WarmTakeover(VmmSupervisor vmms, WarmPool pool, GuestSetup guests) {
    this.vmms = vmms;
    this.pool = pool;
    this.guests = guests;
  }

  boolean enabled() {
    return pool.enabled();
  }

  boolean releaseAll() {
    return pool.releaseAll();
  }

  void refill(GoldenKey key, Image image) {
    pool.refill(key, image);
  }

  void close() {
    pool.close();
  }

  /**
   * A warm VM held out of the pool for one create on a full node: its memory is let go, so that
   * the create is admitted in its place, and the create takes it over. Discarded on close if the
   * create did not.
   */
  final class Reservation implements AutoCloseable {
    private WarmPool.Warm warm;

    private Reservation(WarmPool.Warm warm) {
      this.warm = warm;
    }

    boolean isEmpty() {
      return warm == null;
    }

    /**
     * The warm VM if it is of {@code golden}'s build, once; null otherwise, and one of another
     * build is discarded now: its memory is no longer counted, and the create goes on without it.
     */
    private WarmPool.Warm take(Golden golden) {
      WarmPool.Warm w = warm;
      if (w != null && w.buildId().equals(golden.buildId())) {
        warm = null;
        return w;
      }
      close();
      return null;
    }

    @Override
    public void close() {
      if (warm != null) {
        pool.discard(warm);
        warm = null;
      }
    }
  }

  /** Reserves a warm VM of {@code golden}'s build, if the pool has one. */
  Reservation reserve(Golden golden) {
    WarmPool.Warm w = pool.take(golden.key(), golden.buildId());
    if (w != null) {
      w.hold().close();
    }
    return new Reservation(w);
  }

  Reservation none() {
    return new Reservation(null);
  }

  /**
   * Makes a warm VM of {@code golden}'s build {@code vm}'s, running and with its guest ready;
   * false, with {@code vm}'s directory as it was, when there is none to take.
   */
  boolean takeOver(VmRecord vm, Golden golden, Reservation reserved) {
    WarmPool.Warm warm = reserved.take(golden);
    if (warm == null) {
      warm = pool.take(golden.key(), golden.buildId());
    }
    if (warm == null) {
      return false;
    }
    WarmPool.Warm here = warm;
    try {
      // Only the files NewVms.make and the create wrote are here; they are written again.
      Files2.deleteTree(vm.layout.dir());
      Files.move(warm.layout().dir(), vm.layout.dir(), StandardCopyOption.ATOMIC_MOVE);
      // From here its VMM's sockets are under the VM's directory, and a discard must look there.
      here = warm.movedTo(vm.layout);
      Files.deleteIfExists(vm.layout.dir().resolve(WarmPool.READY));
      AtomicFiles.writeString(vm.layout.incompleteMarker(), "create");
      if (warm.lease() != null) {
        // From here the address is the VM's (the discard below leaves it, its TAP included):
        // the create goes on with it, and a failed create frees it with the VM.
        guests.takeNic(vm, warm.lease());
      }
      VmFiles.writeSpec(vm);
    } catch (IOException | RuntimeException e) {
      log.warn("cannot take over warm VM {} for {}: {}", warm.layout().dir(), vm.id, e.toString());
      // Stops its VMM wherever its directory is now, and removes that directory.
      pool.discard(here);
      restoreDirectory(vm);
      return false;
    }
    try {
      // From here the VMM is the VM's: a failure stops it as any failed restore's.
      vmms.takeOver(vm, warm.pid(), warm.guest());
    } finally {
      warm.hold().close(); // the VM was admitted with its own memory (a reserved one's: closed)
    }
    return true;
  }

  private static void restoreDirectory(VmRecord vm) {
    try {
      Files.createDirectories(vm.layout.dir());
      AtomicFiles.writeString(vm.layout.incompleteMarker(), "create");
      VmFiles.writeSpec(vm);
    } catch (IOException e) {
      throw new AgentException(AgentException.Code.INTERNAL, "cannot write " + vm.layout.dir()
          + ": " + e.getMessage(), e);
    }
  }
}
