package dev.noid.controller.images;

import dev.noid.controller.nodes.NodeRegistry;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The image pulls each node is running, as its last heartbeat reported them, so that a user
 * whose create waits on a pull can see how far it got. Memory only: a pull lasts seconds to
 * minutes, and a restarted controller hears of it again with the next heartbeat. A node's
 * pulls go when it reports none, stops heartbeating, or is removed, so none lingers forever.
 */
public final class ImagePullsInFlight {
  /** {@code totalBytes} is 0 until the node knows the image's size. */
  public record Pull(String node, String digest, long doneBytes, long totalBytes) {}

  private final Map<String, List<Pull>> byNode = new ConcurrentHashMap<>();

  /** Pulls that follow {@code nodes}: dropped with a node that goes NOT_READY or is removed. */
  public static ImagePullsInFlight of(NodeRegistry nodes) {
    ImagePullsInFlight pulls = new ImagePullsInFlight();
    nodes.onReadinessChange(n -> {
      if (!n.ready()) {
        pulls.drop(n.name());
      }
    });
    nodes.onRemoval(pulls::drop);
    return pulls;
  }

  /** A heartbeat's pulls: they replace whatever {@code node} reported before. */
  public void reported(String node, List<Pull> pulls) {
    if (pulls.isEmpty()) {
      byNode.remove(node);
    } else {
      byNode.put(node, List.copyOf(pulls));
    }
  }

  public void drop(String node) {
    byNode.remove(node);
  }

  /** The nodes pulling {@code digest} now, by node name. */
  public List<Pull> of(String digest) {
    return byNode.values().stream().flatMap(List::stream).filter(p -> p.digest().equals(digest))
        .sorted(Comparator.comparing(Pull::node)).toList();
  }
}
