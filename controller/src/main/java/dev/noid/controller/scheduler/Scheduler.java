package dev.noid.controller.scheduler;

import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.NoidException.Code;
import dev.noid.controller.nodes.NodeEntry;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Chooses a node and reserves the VM's cpus and memory there in one atomic step, so two
 * concurrent creates can never both take the last slot. Hard filters first (each says why it
 * rejected a node), then a score: spread (most free memory) by default, binpack by config.
 */
public final class Scheduler {
  public enum Strategy { SPREAD, BINPACK }

  record Reserved(int cpus, long memMib) {
    Reserved plus(int c, long m) {
      return new Reserved(cpus + c, memMib + m);
    }
  }

  private final Strategy strategy;
  private final Map<String, Reserved> reserved = new HashMap<>();

  public Scheduler(Strategy strategy) {
    this.strategy = strategy;
  }

  /** Picks a node among {@code nodes} and reserves there; throws NO_CAPACITY saying why not. */
  public synchronized String place(Placement p, Collection<NodeEntry> nodes) {
    List<String> reasons = new ArrayList<>();
    NodeEntry best = null;
    double bestScore = Double.NEGATIVE_INFINITY;
    // One pass, no sort: ties go to the first name in order, as if the nodes were sorted.
    for (NodeEntry n : nodes) {
      String why = rejection(p, n);
      if (why != null) {
        reasons.add(n.name() + ": " + why);
        continue;
      }
      double score = score(n) + imageBonus(p, n);
      if (score > bestScore || (score == bestScore && n.name().compareTo(best.name()) < 0)) {
        best = n;
        bestScore = score;
      }
    }
    if (best == null) {
      reasons.sort(null);
      String detail = reasons.isEmpty() ? "no nodes have joined the cluster" : String.join("; ", reasons);
      throw new NoidException(Code.NO_CAPACITY, "no node can run this VM (" + p.cpus() + " cpus, "
          + p.memMib() + " MiB): " + detail);
    }
    reserved.merge(best.name(), new Reserved(p.cpus(), p.memMib()), (a, b) -> a.plus(b.cpus(), b.memMib()));
    return best.name();
  }

  /**
   * Places {@code count} alike VMs in one atomic step: all of them, each on the node the one-by-one
   * {@link #place} would have chosen, or none (NO_CAPACITY saying how many fit and why no node
   * takes more). The filters run once per node, not once per VM: within one call only a node's
   * free memory changes, so the best node comes off a heap ordered as {@link #place} orders.
   */
  public synchronized List<String> placeAll(Placement p, int count, Collection<NodeEntry> nodes) {
    List<String> reasons = new ArrayList<>();
    Map<String, Long> free = new HashMap<>();
    java.util.PriorityQueue<NodeEntry> best = new java.util.PriorityQueue<>(
        java.util.Comparator.comparingDouble((NodeEntry n) -> -score(n, free.get(n.name()))
            - imageBonus(p, n))
            .thenComparing(NodeEntry::name));
    for (NodeEntry n : nodes) {
      String why = rejection(p, n);
      if (why != null) {
        reasons.add(n.name() + ": " + why);
        continue;
      }
      free.put(n.name(), n.memoryMib() - reserved.getOrDefault(n.name(), new Reserved(0, 0)).memMib());
      best.add(n);
    }
    List<String> placed = new ArrayList<>(count);
    while (placed.size() < count && !best.isEmpty()) {
      NodeEntry n = best.poll();
      placed.add(n.name());
      long left = free.merge(n.name(), -(long) p.memMib(), Long::sum);
      if (left >= p.memMib()) {
        best.add(n);
      } else {
        reasons.add(n.name() + ": " + Math.max(0, left) + " MiB free < " + p.memMib() + " MiB asked");
      }
    }
    if (placed.size() < count) {
      reasons.sort(null);
      String detail = reasons.isEmpty() ? "no nodes have joined the cluster" : String.join("; ", reasons);
      throw new NoidException(Code.NO_CAPACITY, "room for only " + placed.size() + " of " + count
          + " VMs (" + p.cpus() + " cpus, " + p.memMib() + " MiB each): " + detail);
    }
    for (String node : placed) {
      reserveOn(node, p.cpus(), p.memMib());
    }
    return placed;
  }

  /** Reserves on a given node without choosing (a restore in place, or re-adoption at start). */
  public synchronized void reserveOn(String node, int cpus, int memMib) {
    reserved.merge(node, new Reserved(cpus, memMib), (a, b) -> a.plus(b.cpus(), b.memMib()));
  }

  /** Checks {@code node} fits and reserves there, or says why not. */
  public synchronized void placeOn(Placement p, NodeEntry node) {
    String why = rejection(p, node);
    if (why != null) {
      throw new NoidException(Code.NO_CAPACITY, node.name() + ": " + why);
    }
    reserveOn(node.name(), p.cpus(), p.memMib());
  }

  public synchronized void release(String node, int cpus, int memMib) {
    reserved.computeIfPresent(node, (k, r) -> {
      Reserved next = new Reserved(Math.max(0, r.cpus() - cpus), Math.max(0, r.memMib() - memMib));
      return next.cpus() == 0 && next.memMib() == 0 ? null : next;
    });
  }

  public synchronized int reservedCpus(String node) {
    return reserved.getOrDefault(node, new Reserved(0, 0)).cpus();
  }

  public synchronized long reservedMemMib(String node) {
    return reserved.getOrDefault(node, new Reserved(0, 0)).memMib();
  }

  private String rejection(Placement p, NodeEntry n) {
    if (!p.nodeHint().isEmpty() && !p.nodeHint().equals(n.name())) {
      return "not the requested node";
    }
    if (!n.ready()) {
      return "not ready";
    }
    if (n.cordoned()) {
      return "cordoned";
    }
    for (Map.Entry<String, String> want : p.nodeSelector().entrySet()) {
      if (!want.getValue().equals(n.labels().get(want.getKey()))) {
        return "label " + want.getKey() + "=" + want.getValue() + " missing";
      }
    }
    // A fleet image (NAME@sha256:HEX) can run anywhere: a node that lacks it pulls it.
    if (!p.image().isEmpty() && !p.image().contains("@") && !n.images().isEmpty()
        && !n.images().contains(p.image())) {
      return "image '" + p.image() + "' not available";
    }
    Reserved r = reserved.getOrDefault(n.name(), new Reserved(0, 0));
    long freeMem = n.memoryMib() - r.memMib();
    if (p.memMib() > freeMem) {
      return Math.max(0, freeMem) + " MiB free < " + p.memMib() + " MiB asked";
    }
    // Memory is never over-committed; vCPUs may be (guests idle most of the time), but one VM
    // cannot have more vCPUs than its node has CPUs.
    if (p.cpus() > n.cpus()) {
      return n.cpus() + " cpus < " + p.cpus() + " asked";
    }
    return null;
  }

  /**
   * Nodes that hold the VM's fleet image rank above every node that would have to pull it
   * first (seconds to minutes), whatever their free memory: the bonus is larger than any score.
   */
  private static double imageBonus(Placement p, NodeEntry n) {
    return holdsImage(p, n) ? 1e15 : 0;
  }

  private static boolean holdsImage(Placement p, NodeEntry n) {
    int at = p.image().indexOf('@');
    return at >= 0 && n.images().contains(p.image().substring(at + 1));
  }

  /**
   * Why {@code node} suits the VM as far as its image goes, for the VM's status and the log:
   * empty for node-local images.
   */
  public static String imageNote(Placement p, NodeEntry node) {
    int at = p.image().indexOf('@');
    if (at < 0) {
      return "";
    }
    String name = p.image().substring(0, at);
    return holdsImage(p, node) ? node.name() + " holds image " + name
        : node.name() + " will pull image " + name + " (no node that can take the VM holds it)";
  }

  private double score(NodeEntry n) {
    return score(n, n.memoryMib() - reserved.getOrDefault(n.name(), new Reserved(0, 0)).memMib());
  }

  private double score(NodeEntry n, long freeMemMib) {
    return strategy == Strategy.SPREAD ? freeMemMib : -freeMemMib;
  }
}
