package dev.noid.controller.nodes.grpc;

import dev.noid.controller.api.WatchStream;
import dev.noid.api.v1.Node;
import dev.noid.api.v1.WatchNodesResponse;
import dev.noid.api.v1.WatchNodesResponse.EventType;
import dev.noid.controller.nodes.NodeEntry;
import dev.noid.controller.watch.ChangeFeed;
import java.util.function.Function;

/** Node changes as WatchNodes responses. */
final class NodeWatchResponses implements WatchStream.Responses<NodeEntry, WatchNodesResponse> {
  private final Function<NodeEntry, Node> proto;

  NodeWatchResponses(Function<NodeEntry, Node> proto) {
    this.proto = proto;
  }

  @Override
  public WatchNodesResponse existing(NodeEntry n) {
    return WatchNodesResponse.newBuilder().setType(EventType.EVENT_TYPE_EXISTING)
        .setNode(proto.apply(n)).setRevision(n.revision()).build();
  }

  @Override
  public WatchNodesResponse change(ChangeFeed.Event<NodeEntry> e) {
    return WatchNodesResponse.newBuilder().setType(switch (e.type()) {
      case ADDED -> EventType.EVENT_TYPE_ADDED;
      case MODIFIED -> EventType.EVENT_TYPE_MODIFIED;
      case DELETED -> EventType.EVENT_TYPE_DELETED;
    }).setNode(proto.apply(e.item())).setRevision(e.revision()).build();
  }

  @Override
  public WatchNodesResponse synced(long revision) {
    return WatchNodesResponse.newBuilder().setType(EventType.EVENT_TYPE_SYNCED)
        .setRevision(revision).build();
  }
}
