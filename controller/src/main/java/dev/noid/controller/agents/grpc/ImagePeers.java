package dev.noid.controller.agents.grpc;

import dev.noid.api.agent.v1.CreateVmRequest;
import dev.noid.api.agent.v1.ImagePeer;
import dev.noid.controller.nodes.NodeEntry;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells a node that lacks a create's fleet image which other node holds it, with a grant to
 * take it from there (issue 24): images move agent to agent, and the controller serves them
 * only when no other node has one or the peer fails. Holders come from the nodes' reports;
 * a node is told once per batch and image, since its cache pulls an image once however many
 * of the batch's VMs use it.
 */
final class ImagePeers {
  private static final Logger log = LoggerFactory.getLogger(ImagePeers.class);
  private final AgentClients agents;
  private final TransferGrants grants;
  private final ImageSizes sizes;

  ImagePeers(AgentClients agents, TransferGrants grants, ImageSizes sizes) {
    this.agents = agents;
    this.grants = grants;
    this.sizes = sizes;
  }

  /** {@code requests} with a peer named where {@code node} lacks the image and a peer has it. */
  List<CreateVmRequest> name(String node, List<CreateVmRequest> requests) {
    List<String> held = held(node);
    Set<String> named = new HashSet<>();
    return requests.stream().map(r -> {
      String digest = digestOf(r.getSpec().getImage());
      if (digest == null || held.contains(digest) || !named.add(digest)) {
        return r;
      }
      return peer(node, digest).map(p -> r.toBuilder().setImagePeer(p).build()).orElse(r);
    }).toList();
  }

  /** A node {@code node} may take {@code image} from, if it lacks it and another holds it. */
  Optional<ImagePeer> forImage(String node, String image) {
    String digest = digestOf(image);
    return digest == null || held(node).contains(digest) ? Optional.empty() : peer(node, digest);
  }

  private List<String> held(String node) {
    return agents.node(node).map(NodeEntry::images).orElse(List.of());
  }

  // Any holder but the node itself, at random: one node does not serve the whole fleet. The
  // peer only saves the controller work, so a failure here leaves it out, as does an image
  // whose size this controller cannot vouch for (its receiver would take no limit).
  private Optional<ImagePeer> peer(String node, String digest) {
    try {
      OptionalLong size = sizes.ext4Bytes(digest);
      if (size.isEmpty()) {
        return Optional.empty();
      }
      List<NodeEntry> holders = agents.holders(digest).stream()
          .filter(h -> !h.name().equals(node)).toList();
      if (holders.isEmpty()) {
        return Optional.empty();
      }
      NodeEntry h = holders.get(ThreadLocalRandom.current().nextInt(holders.size()));
      return Optional.of(ImagePeer.newBuilder().setNode(h.name()).setAddress(h.address())
          .setGrant(grants.signImage(digest, h.name(), node)).setImageBytes(size.getAsLong())
          .build());
    } catch (RuntimeException e) {
      log.warn("no peer named for image {} on node {}: {}", digest, node, e.toString());
      return Optional.empty();
    }
  }

  // A fleet image is NAME@sha256:HEX; a node-local image has no digest and never moves.
  private static String digestOf(String image) {
    int at = image.indexOf('@');
    return at < 0 ? null : image.substring(at + 1);
  }
}
