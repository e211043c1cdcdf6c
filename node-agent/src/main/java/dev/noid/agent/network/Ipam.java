package dev.noid.agent.network;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.agent.vm.AtomicFiles;
import dev.noid.common.network.Subnet;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hands out the node subnet's addresses, one per VM, and remembers them in a file written
 * before an address is used, so a restarted agent never gives out an address a VM still has.
 * An address is free again only when its VM releases it (after its VMM and TAP are gone), and
 * even then it is handed out last: allocation goes round the subnet from where it stopped, so
 * stale ARP entries elsewhere age out before the address comes back.
 */
public final class Ipam {
  private static final Logger log = LoggerFactory.getLogger(Ipam.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Subnet subnet;
  private final Path file;
  private final Map<String, Integer> leases = new TreeMap<>();
  private int next;

  public Ipam(Subnet subnet, Path file) {
    this.subnet = subnet;
    this.file = file;
    this.next = subnet.firstVmAddress();
    load();
  }

  public Subnet subnet() {
    return subnet;
  }

  /** The VM's address: its existing lease, else the next free one (persisted before return). */
  public synchronized int allocate(String vmId) {
    Integer held = leases.get(vmId);
    if (held != null) {
      return held;
    }
    int size = subnet.lastVmAddress() - subnet.firstVmAddress() + 1;
    int candidate = next;
    for (int tried = 0; tried < size; tried++) {
      if (candidate > subnet.lastVmAddress()) {
        candidate = subnet.firstVmAddress();
      }
      if (!leases.containsValue(candidate)) {
        int before = next;
        leases.put(vmId, candidate);
        next = candidate + 1;
        saveOrUndo(() -> {
          leases.remove(vmId);
          next = before;
        });
        return candidate;
      }
      candidate++;
    }
    throw new AgentException(Code.NO_CAPACITY, "no free address in this node's subnet " + subnet
        + " (" + leases.size() + " VMs hold all of them)");
  }

  /**
   * Gives {@code fromVmId}'s address to {@code toVmId}, which holds none (persisted before
   * return): the address, its TAP and what its guest was told move together.
   */
  public synchronized int transfer(String fromVmId, String toVmId) {
    Integer address = leases.get(fromVmId);
    if (address == null) {
      throw new AgentException(Code.NOT_FOUND, "'" + fromVmId + "' holds no address to hand over");
    }
    if (leases.containsKey(toVmId)) {
      throw new AgentException(Code.ALREADY_EXISTS, "VM '" + toVmId + "' holds an address already");
    }
    leases.remove(fromVmId);
    leases.put(toVmId, address);
    saveOrUndo(() -> {
      leases.remove(toVmId);
      leases.put(fromVmId, address);
    });
    return address;
  }

  /**
   * Undoes {@link #transfer} after its caller could not use the address under {@code toVmId}:
   * in memory whatever the write does, so the address is {@code fromVmId}'s again and its clean-up
   * finds it. A failed write is thrown after; the file names {@code toVmId}, which nothing uses,
   * until the next write, and an agent started on it frees that lease as one of no VM.
   */
  public synchronized void untransfer(String fromVmId, String toVmId) {
    Integer address = leases.remove(toVmId);
    if (address == null) {
      throw new AgentException(Code.NOT_FOUND, "'" + toVmId + "' holds no address to give back");
    }
    leases.put(fromVmId, address);
    save();
  }

  /** Frees the VM's address; call only once nothing uses it any more. */
  public synchronized void release(String vmId) {
    if (leases.remove(vmId) != null) {
      save();
    }
  }

  public synchronized Map<String, Integer> leases() {
    return Map.copyOf(leases);
  }

  private void load() {
    if (!Files.exists(file)) {
      return;
    }
    try {
      ObjectNode root = (ObjectNode) JSON.readTree(file.toFile());
      for (Iterator<Map.Entry<String, com.fasterxml.jackson.databind.JsonNode>> it =
          root.path("leases").fields(); it.hasNext(); ) {
        Map.Entry<String, com.fasterxml.jackson.databind.JsonNode> e = it.next();
        int address = Subnet.parseAddress(e.getValue().asText());
        if (subnet.contains(address)) {
          leases.put(e.getKey(), address);
        } else {
          // The node's subnet changed: the VM gets an address of the new one when next attached.
          log.warn("dropping lease {} of VM {}: not in this node's subnet {}",
              Subnet.format(address), e.getKey(), subnet);
        }
      }
      String saved = root.path("next").asText("");
      if (!saved.isEmpty() && subnet.contains(Subnet.parseAddress(saved))) {
        next = Subnet.parseAddress(saved);
      }
    } catch (IOException | RuntimeException e) {
      // Handing out addresses without knowing which are taken would duplicate them.
      throw new AgentException(Code.INTERNAL, "cannot read the address leases in " + file + ": "
          + e.getMessage(), e);
    }
  }

  /**
   * A lease that is not on disk must not be in memory either: the caller sees the write fail and
   * never uses the address, so nothing would ever release it.
   */
  private void saveOrUndo(Runnable undo) {
    try {
      save();
    } catch (RuntimeException e) {
      undo.run();
      throw e;
    }
  }

  private void save() {
    ObjectNode root = JSON.createObjectNode();
    root.put("subnet", subnet.toString());
    root.put("next", Subnet.format(next));
    ObjectNode l = root.putObject("leases");
    leases.forEach((vm, address) -> l.put(vm, Subnet.format(address)));
    try {
      Files.createDirectories(file.getParent());
      AtomicFiles.write(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(root));
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "cannot write the address leases to " + file + ": "
          + e.getMessage(), e);
    }
  }
}
