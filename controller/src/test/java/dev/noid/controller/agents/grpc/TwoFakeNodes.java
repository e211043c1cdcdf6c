package dev.noid.controller.agents.grpc;

import dev.noid.controller.nodes.NodeRegistry;
import dev.noid.controller.store.SqliteStore;
import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** node-a and node-b registered in a real store, each served in-process by a fake agent. */
final class TwoFakeNodes implements AutoCloseable {
  final AgentClients clients;
  private final SqliteStore store;
  private final List<Server> servers = new ArrayList<>();

  TwoFakeNodes(Path dir, BindableService nodeA, BindableService nodeB) throws Exception {
    store = SqliteStore.open(dir.resolve("noid.db"));
    NodeRegistry nodes = new NodeRegistry(store, Clock.systemUTC(), Duration.ofMinutes(5));
    String prefix = "two-nodes-" + System.nanoTime() + "-";
    for (var node : Map.of("node-a", nodeA, "node-b", nodeB).entrySet()) {
      nodes.register(node.getKey(), "in-process", Map.of());
      servers.add(InProcessServerBuilder.forName(prefix + node.getKey())
          .addService(node.getValue()).build().start());
    }
    clients = new AgentClients(n -> InProcessChannelBuilder.forName(prefix + n.name()).build(),
        nodes);
  }

  @Override
  public void close() {
    clients.close();
    servers.forEach(Server::shutdownNow);
    store.close();
  }
}
