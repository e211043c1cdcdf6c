package dev.noid.controller.agents.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.api.agent.v1.CreateVmRequest;
import dev.noid.api.agent.v1.TransferGrantBody;
import dev.noid.api.agent.v1.VmSpec;
import dev.noid.controller.nodes.NodeEntry;
import dev.noid.controller.nodes.NodeRegistry;
import dev.noid.controller.store.SqliteStore;
import dev.noid.controller.testing.TestGrants;
import io.grpc.ManagedChannel;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Which other node a create is told to take its image from (issue 24): one that reported
 * holding it, with a grant for exactly that image from that node to this one, once per batch
 * and image, with the size the receiver takes no more than; nothing when the node holds it
 * already, no other node has it, the image is the node's own, or this controller cannot say
 * the image's size.
 */
class ImagePeersTest {
  private static final String DIGEST = "sha256:" + "ab".repeat(32);
  private static final long IMAGE_BYTES = 64L << 20;
  @TempDir Path dir;
  private SqliteStore store;
  private NodeRegistry nodes;
  private ImagePeers peers;
  private final dev.noid.controller.MutableClock clock =
      new dev.noid.controller.MutableClock(Instant.parse("2026-12-04T12:00:00Z"));

  @BeforeEach
  void cluster() throws Exception {
    store = SqliteStore.open(dir.resolve("noid.db"));
    nodes = new NodeRegistry(store, clock, Duration.ofMinutes(5));
    for (String n : List.of("node-a", "node-b", "node-c")) {
      nodes.register(n, n + ":7660", Map.of());
    }
    beat("node-a", List.of(DIGEST));
    beat("node-b", List.of());
    AgentClients clients = new AgentClients(n -> (ManagedChannel) null, nodes);
    peers = new ImagePeers(clients, TestGrants.signer(Clock.systemUTC()),
        d -> d.equals(DIGEST) ? OptionalLong.of(IMAGE_BYTES) : OptionalLong.empty());
  }

  @AfterEach
  void close() {
    store.close();
  }

  private void beat(String name, List<String> images) {
    nodes.heartbeat(new NodeEntry(name, "", Map.of(), false, "qemu", "tcg", "", 4, 8L << 30,
        100L << 30, 50L << 30, 0, 4, 4096, images, "test", "i-1", Instant.now(), true, "", 0));
  }

  private static CreateVmRequest create(String vm, String image) {
    return CreateVmRequest.newBuilder().setSpec(VmSpec.newBuilder().setId(vm).setImage(image))
        .build();
  }

  @Test
  void aNodeLackingTheImageIsToldOnceWhichNodeHasItWithAGrantForThatImage() throws Exception {
    List<CreateVmRequest> named = peers.name("node-b", List.of(
        create("vm1", "web@" + DIGEST), create("vm2", "web@" + DIGEST)));

    assertThat(named.get(0).getImagePeer().getNode()).isEqualTo("node-a");
    assertThat(named.get(0).getImagePeer().getAddress()).isEqualTo("node-a:7660");
    assertThat(named.get(0).getImagePeer().getImageBytes()).isEqualTo(IMAGE_BYTES);
    TransferGrantBody grant = TransferGrantBody.parseFrom(
        named.get(0).getImagePeer().getGrant().getBody());
    assertThat(grant.getImageDigest()).isEqualTo(DIGEST);
    assertThat(grant.getCheckpointId()).isEmpty();
    assertThat(grant.getSourceNode()).isEqualTo("node-a");
    assertThat(grant.getTargetNode()).isEqualTo("node-b");
    assertThat(named.get(1).hasImagePeer()).isFalse(); // its cache pulls the image once
  }

  @Test
  void aNodeThatHoldsTheImageOrAnImageNoOtherNodeHasGetsNoPeer() {
    assertThat(peers.name("node-a", List.of(create("vm1", "web@" + DIGEST))).getFirst()
        .hasImagePeer()).isFalse();
    assertThat(peers.name("node-b", List.of(create("vm1", "db@sha256:" + "cd".repeat(32))))
        .getFirst().hasImagePeer()).isFalse();
    assertThat(peers.name("node-b", List.of(create("vm1", "dev"))).getFirst().hasImagePeer())
        .isFalse();
  }

  @Test
  void aHolderThatIsNotReadyIsNotNamed() {
    clock.advance(Duration.ofMinutes(6));
    beat("node-b", List.of());
    nodes.expireLeases(); // node-a went silent: its last report still lists the image
    assertThat(nodes.require("node-a").ready()).isFalse();
    assertThat(nodes.require("node-a").images()).contains(DIGEST);
    assertThat(peers.name("node-c", List.of(create("vm1", "web@" + DIGEST))).getFirst()
        .hasImagePeer()).isFalse();
  }

  @Test
  void anImageWhoseSizeThisControllerCannotSayGetsNoPeer() {
    String unsized = "sha256:" + "ef".repeat(32);
    beat("node-a", List.of(DIGEST, unsized));
    assertThat(peers.name("node-b", List.of(create("vm1", "web@" + unsized))).getFirst()
        .hasImagePeer()).isFalse();
    assertThat(peers.forImage("node-b", "web@" + unsized)).isEmpty();
    assertThat(peers.forImage("node-b", "web@" + DIGEST)).isPresent();
  }
}
