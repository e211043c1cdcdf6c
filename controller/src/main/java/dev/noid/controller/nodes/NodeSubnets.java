package dev.noid.controller.nodes;

import dev.noid.common.network.Subnet;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.NoidException.Code;
import java.util.Collection;
import java.util.HashSet;
import java.util.Set;

/**
 * Cuts the cluster CIDR into one subnet per node (a /24 by default), so that VM addresses and
 * the MACs derived from them are unique across the fleet. Without a cluster CIDR nodes get
 * none, and use the subnet in their own config, if any.
 */
public final class NodeSubnets {
  private final Subnet cluster;
  private final int nodePrefix;

  public NodeSubnets(Subnet cluster, int nodePrefix) {
    if (cluster != null && (nodePrefix < cluster.prefixLength() || nodePrefix > 29)) {
      throw new IllegalArgumentException("node subnets of /" + nodePrefix + " do not fit in "
          + cluster + " (need " + cluster.prefixLength() + "-29)");
    }
    this.cluster = cluster;
    this.nodePrefix = nodePrefix;
  }

  public static NodeSubnets none() {
    return new NodeSubnets(null, 24);
  }

  /** The first node subnet none of {@code taken} is; "" when there is no cluster CIDR. */
  public String assign(Collection<String> taken) {
    if (cluster == null) {
      return "";
    }
    Set<String> used = new HashSet<>(taken);
    for (int i = 0; i < cluster.childCount(nodePrefix); i++) {
      String candidate = cluster.child(i, nodePrefix).toString();
      if (!used.contains(candidate)) {
        return candidate;
      }
    }
    throw new NoidException(Code.NO_CAPACITY, "the cluster CIDR " + cluster + " has no free /"
        + nodePrefix + " left for another node (" + used.size() + " nodes hold them)");
  }
}
