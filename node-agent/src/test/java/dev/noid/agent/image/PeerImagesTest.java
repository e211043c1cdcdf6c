package dev.noid.agent.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.noid.agent.checkpoint.CheckpointStore;
import dev.noid.agent.checkpoint.CheckpointTransfer;
import dev.noid.agent.checkpoint.TestCheckpoints;
import dev.noid.agent.memory.MemoryBases;
import dev.noid.agent.transfer.ImageOffers;
import dev.noid.agent.transfer.PeerChannels;
import dev.noid.agent.transfer.PeerFirstImageSource;
import dev.noid.agent.transfer.PeerPulls;
import dev.noid.agent.transfer.TestPeers;
import dev.noid.agent.vm.AgentException;
import dev.noid.api.agent.v1.ImagePeer;
import dev.noid.api.agent.v1.TransferGrant;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fleet images from another node (issue 24), over real mutual TLS between two node
 * certificates: node-b takes an image node-a holds with the controller's grant; a peer that
 * refuses, lacks the image or sends other bytes leaves node-b with the image from the
 * controller instead; a grant for one kind of transfer is worth nothing for the other.
 */
class PeerImagesTest {
  private static final int MIB = 1 << 20;
  @TempDir Path tmp;
  private TestPeers peers;
  private String address;
  private byte[] image;
  private String digest;
  private final FakeImageSource controller = new FakeImageSource();
  private final ImageOffers offers = new ImageOffers(Clock.systemUTC());
  private PeerChannels channels;
  private ImageCache nodeB;
  private ImageCache nodeA;
  private CheckpointStore checkpointsA;

  @BeforeEach
  void twoNodes() throws Exception {
    image = new byte[3 * MIB + 11];
    new Random(5).nextBytes(image);
    digest = "sha256:" + HexFormat.of().formatHex(
        MessageDigest.getInstance("SHA-256").digest(image));
    controller.served.put(digest, image);
    nodeA = new ImageCache(tmp.resolve("a-images"), controller, 1L << 30, Clock.systemUTC());
    nodeA.ensure(digest, ImageSource.Progress.NONE); // node-a pulled it for a VM of its own
    controller.fetches.set(0);
    checkpointsA = new CheckpointStore(tmp.resolve("a-checkpoints"));
    peers = new TestPeers(tmp);
    address = peers.serveNodeA(new CheckpointTransfer(checkpointsA,
        new MemoryBases(tmp.resolve("a-mem"))), new NodeImages(ImageCatalog.scan(List.of()), nodeA));
    channels = peers.channelsOfNodeB();
    nodeB = new ImageCache(tmp.resolve("b-images"),
        new PeerFirstImageSource(offers, channels, controller), 1L << 30, Clock.systemUTC());
  }

  @AfterEach
  void stop() {
    channels.close();
    peers.close();
  }

  private void offer(TransferGrant grant) {
    offers.offer(digest, ImagePeer.newBuilder().setNode("node-a").setAddress(address)
        .setGrant(grant).setImageBytes(image.length).build());
  }

  @Test
  void anOfferedImageComesFromTheOtherNodeAndNotFromTheController() throws Exception {
    offer(peers.grants.signImage(digest, "node-a", "node-b"));
    Path file = nodeB.ensure(digest, ImageSource.Progress.NONE);

    assertThat(Files.readAllBytes(file)).isEqualTo(image);
    assertThat(controller.fetches).hasValue(0);
    assertThat(peers.imagesSentByA).hasValue(1);
  }

  @Test
  void withoutAnOfferTheImageComesFromTheController() throws Exception {
    Path file = nodeB.ensure(digest, ImageSource.Progress.NONE);
    assertThat(Files.readAllBytes(file)).isEqualTo(image);
    assertThat(controller.fetches).hasValue(1);
  }

  @Test
  void aCheckpointsGrantDoesNotOpenAnImage() {
    assertThatThrownBy(() -> peers.sendImageToNodeB(address,
        peers.grants.sign("ck-1", "node-a", "node-b")))
        .isInstanceOfSatisfying(io.grpc.StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.PERMISSION_DENIED);
          assertThat(e.getStatus().getDescription()).contains("not an image");
        });
  }

  @Test
  void aRefusingPeerLeavesTheImageToTheController() throws Exception {
    offer(peers.grants.sign("ck-1", "node-a", "node-b")); // not an image grant: refused
    Path file = nodeB.ensure(digest, ImageSource.Progress.NONE);

    assertThat(Files.readAllBytes(file)).isEqualTo(image);
    assertThat(controller.fetches).hasValue(1);
    assertThat(peers.imagesSentByA).hasValue(0);
  }

  @Test
  void anImagesGrantDoesNotOpenACheckpoint() throws Exception {
    TestCheckpoints.make(checkpointsA, "ck-1", Map.of("vmstate", new byte[] {1}));
    try (PeerPulls pulls = new PeerPulls(new CheckpointTransfer(
        new CheckpointStore(tmp.resolve("b-checkpoints")), new MemoryBases(tmp.resolve("b-mem"))),
        peers.channelsOfNodeB())) {
      assertThatThrownBy(() -> pulls.pull("ck-1", "node-a", address,
          peers.grants.signImage(digest, "node-a", "node-b")))
          .isInstanceOfSatisfying(AgentException.class, e -> {
            assertThat(e.code()).isEqualTo(AgentException.Code.PERMISSION_DENIED);
            assertThat(e.getMessage()).contains("not a checkpoint");
          });
    }
  }

  @Test
  void aPeerThatLacksTheImageIsPassedOverForTheController() throws Exception {
    String other = "sha256:" + "0".repeat(64);
    controller.served.put(other, new byte[0]);
    offers.offer(other, ImagePeer.newBuilder().setNode("node-a").setAddress(address)
        .setGrant(peers.grants.signImage(other, "node-a", "node-b")).setImageBytes(1).build());

    assertThatThrownBy(() -> nodeB.ensure(other, ImageSource.Progress.NONE))
        .isInstanceOf(AgentException.class); // the empty file does not match: both tries
    assertThat(controller.fetches).hasValue(2);
  }

  @Test
  void aPeerThatSendsOtherBytesIsNotTrustedAndTheControllerIsAsked() throws Exception {
    Path held = nodeA.path(digest);
    byte[] rotten = image.clone();
    rotten[MIB] ^= 1;
    Files.write(held, rotten);
    offer(peers.grants.signImage(digest, "node-a", "node-b"));

    Path file = nodeB.ensure(digest, ImageSource.Progress.NONE);
    assertThat(Files.readAllBytes(file)).isEqualTo(image);
    assertThat(peers.imagesSentByA).as("node-a sent its (rotten) bytes").hasValue(1);
    assertThat(controller.fetches).hasValue(1);
  }

  /**
   * The attack: node-a holds a file under the image's digest that goes on for 32 MiB more, as
   * a node sending without end would. node-b checks the digest only at the end, so before the
   * controller named the image's size it wrote all of it.
   */
  @Test
  void aPeerThatSendsMoreThanTheImageIsStoppedAtItsSizeAndTheControllerIsAsked()
      throws Exception {
    byte[] endless = java.util.Arrays.copyOf(image, image.length + 32 * MIB);
    Files.write(nodeA.path(digest), endless);
    offer(peers.grants.signImage(digest, "node-a", "node-b"));
    List<Long> written = new java.util.concurrent.CopyOnWriteArrayList<>();
    ImageSource.Progress progress = new ImageSource.Progress() {
      @Override
      public void total(long bytes) {}

      @Override
      public void done(long bytes) {
        written.add(bytes);
      }
    };

    Path file = nodeB.ensure(digest, progress);
    assertThat(written).as("node-a's chunks, then the controller's half and whole")
        .hasSizeGreaterThan(2);
    assertThat(written.stream().mapToLong(Long::longValue).max().orElseThrow())
        .as("bytes node-b took from one source").isEqualTo(image.length);
    assertThat(Files.readAllBytes(file)).isEqualTo(image);
    assertThat(controller.fetches).hasValue(1);
  }

  @Test
  void anOfferWithoutTheImagesSizeIsPassedOverForTheController() throws Exception {
    offers.offer(digest, ImagePeer.newBuilder().setNode("node-a").setAddress(address)
        .setGrant(peers.grants.signImage(digest, "node-a", "node-b")).build());
    Path file = nodeB.ensure(digest, ImageSource.Progress.NONE);

    assertThat(Files.readAllBytes(file)).isEqualTo(image);
    assertThat(peers.imagesSentByA).hasValue(0);
    assertThat(controller.fetches).hasValue(1);
  }

  @Test
  void aNodeCannotUseAGrantGivenToAnotherNode() {
    assertThatThrownBy(() -> peers.sendImageToNodeB(address,
        peers.grants.signImage(digest, "node-a", "node-c")))
        .isInstanceOfSatisfying(io.grpc.StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.PERMISSION_DENIED);
          assertThat(e.getStatus().getDescription())
              .contains("it is for target node 'node-c', the caller's certificate names 'node-b'");
        });
    assertThat(peers.sendImageToNodeB(address, peers.grants.signImage(digest, "node-a",
        "node-b"))).isNotEmpty(); // the same call with its own grant
  }

  @Test
  void anImageCutPartWayFromThePeerIsPulledAgainFromTheController() throws Exception {
    int port = Integer.parseInt(address.substring(address.lastIndexOf(':') + 1));
    try (dev.noid.agent.it.CuttingProxy link = new dev.noid.agent.it.CuttingProxy(port)) {
      link.cutAfter(MIB + MIB / 2); // TLS through the relay; some chunks have arrived
      offers.offer(digest, ImagePeer.newBuilder().setNode("node-a")
          .setAddress("127.0.0.1:" + link.port())
          .setGrant(peers.grants.signImage(digest, "node-a", "node-b"))
          .setImageBytes(image.length).build());

      nodeB.ensure(digest, ImageSource.Progress.NONE);
      assertThat(link.cuts()).isEqualTo(1);
    }
    assertThat(Files.readAllBytes(nodeB.path(digest))).isEqualTo(image);
    assertThat(controller.fetches).hasValue(1);
  }

  @Test
  void aNodeSendsTwoImagesAtOnceAndRefusesAThirdUntilOneEnds() throws Exception {
    // Larger than node-b's flow-control window: a send node-b does not read stays open.
    byte[] big = new byte[48 * MIB];
    new Random(9).nextBytes(big);
    String bigDigest = "sha256:" + HexFormat.of().formatHex(
        MessageDigest.getInstance("SHA-256").digest(big));
    controller.served.put(bigDigest, big);
    nodeA.ensure(bigDigest, ImageSource.Progress.NONE);
    List<io.grpc.stub.ClientCallStreamObserver<?>> stalled = new java.util.ArrayList<>();
    for (int i = 0; i < 2; i++) {
      stalled.add(peers.stallSendImageToNodeB(address,
          peers.grants.signImage(bigDigest, "node-a", "node-b")));
    }

    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(30))
        .untilAsserted(() -> assertThatThrownBy(() -> peers.sendImageToNodeB(address,
            peers.grants.signImage(digest, "node-a", "node-b")))
            .isInstanceOfSatisfying(io.grpc.StatusRuntimeException.class, e -> {
              assertThat(e.getStatus().getCode())
                  .isEqualTo(io.grpc.Status.Code.RESOURCE_EXHAUSTED);
              assertThat(e.getStatus().getDescription()).contains("sending 2 images already");
            }));
    stalled.getFirst().cancel("node-b gave up", null);
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(30))
        .ignoreExceptions().untilAsserted(() -> assertThat(peers.sendImageToNodeB(address,
            peers.grants.signImage(digest, "node-a", "node-b"))).isNotEmpty());
    stalled.getLast().cancel("done", null);
  }
}
