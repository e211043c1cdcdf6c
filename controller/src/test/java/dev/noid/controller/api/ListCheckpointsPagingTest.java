package dev.noid.controller.api;

import static dev.noid.controller.api.ConcurrentCreateTest.bearer;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.noid.api.v1.Checkpoint;
import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.ListCheckpointsRequest;
import dev.noid.api.v1.ListCheckpointsResponse;
import dev.noid.api.v1.ListVmsRequest;
import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.api.v1.WatchVmsRequest;
import dev.noid.client.NoidClient;
import dev.noid.controller.users.Principal;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ListCheckpoints answered every checkpoint of the caller in one message, whatever page_size
 * asked, and a user without a checkpoint quota can hold more than a client reads in one. It now
 * pages as ListVms does, and the SDK follows the pages.
 */
class ListCheckpointsPagingTest {
  private static final Principal ALICE = new Principal("alice", false);
  private static final Principal BOB = new Principal("bob", false);

  @TempDir Path dir;
  private InProcessController c;
  private ManagedChannel ch;
  private VmServiceGrpc.VmServiceBlockingStub alice;
  private String aliceToken;

  @BeforeEach
  void start() throws Exception {
    c = new InProcessController(dir, Duration.ofSeconds(30), Map.of("node-a", 4096L));
    ch = c.channel();
    aliceToken = c.users.add("alice", "user").token();
    alice = VmServiceGrpc.newBlockingStub(ch).withCallCredentials(bearer(aliceToken));
  }

  @AfterEach
  void stop() {
    ch.shutdownNow();
    c.close();
  }

  @Test
  void checkpointsComeInPagesOfTheAskedSizeOldestFirstAndOnlyTheCallers() throws Exception {
    c.users.add("bob", "user");
    c.create(ALICE, CreateVmRequest.newBuilder().setName("web").setCpus(1).setMemMib(256).build());
    c.create(BOB, CreateVmRequest.newBuilder().setName("web").setCpus(1).setMemMib(256).build());
    List<String> taken = new ArrayList<>();
    for (int i = 0; i < 7; i++) {
      taken.add(c.vms.checkpoints().checkpoint(ALICE, "web", "v" + i).id());
    }
    c.vms.checkpoints().checkpoint(BOB, "web", "bobs");

    List<String> seen = new ArrayList<>();
    List<Integer> sizes = new ArrayList<>();
    String token = "";
    do {
      ListCheckpointsResponse page = alice.listCheckpoints(ListCheckpointsRequest.newBuilder()
          .setPageSize(3).setPageToken(token).build());
      page.getCheckpointsList().forEach(ck -> seen.add(ck.getId()));
      sizes.add(page.getCheckpointsCount());
      token = page.getNextPageToken();
    } while (!token.isEmpty());

    assertThat(sizes).containsExactly(3, 3, 1);
    assertThat(seen).isEqualTo(taken);
  }

  /** A client from before paging asks no size and follows no token: it still gets them all. */
  @Test
  void aCallerThatAsksNoPageSizeGetsEveryCheckpointThatFits() throws Exception {
    c.create(ALICE, CreateVmRequest.newBuilder().setName("web").setCpus(1).setMemMib(256).build());
    for (int i = 0; i < 150; i++) {
      c.vms.checkpoints().checkpoint(ALICE, "web", "");
    }

    ListCheckpointsResponse all = alice.listCheckpoints(ListCheckpointsRequest.getDefaultInstance());

    assertThat(all.getCheckpointsCount()).isEqualTo(150);
    assertThat(all.getNextPageToken()).isEmpty();
  }

  @Test
  void aBadPageSizeOrTokenIsRefusedNamingTheField() throws Exception {
    Status size = refusal(() -> alice.listCheckpoints(ListCheckpointsRequest.newBuilder()
        .setPageSize(1001).build()));
    Status token = refusal(() -> alice.listCheckpoints(ListCheckpointsRequest.newBuilder()
        .setPageToken("not-a-token").build()));

    assertThat(size.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(size.getDescription()).contains("page_size").contains("1000");
    assertThat(token.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(token.getDescription()).contains("page_token");
  }

  @Test
  void theSdkReadsEveryPage() throws Exception {
    c.create(ALICE, CreateVmRequest.newBuilder().setName("web").setCpus(1).setMemMib(256).build());
    // One more than the SDK asks for in a page.
    for (int i = 0; i < 1001; i++) {
      c.vms.checkpoints().checkpoint(ALICE, "web", "");
    }

    try (NoidClient noid = NoidClient.builder().token(aliceToken)
        .channel(InProcessChannelBuilder.forName(c.name()).build()).build()) {
      List<Checkpoint> all = noid.checkpoints("web");

      assertThat(all).hasSize(1001);
      assertThat(all.stream().map(Checkpoint::getId).distinct()).hasSize(1001);
    }
  }

  @Test
  void aLabelSelectorOutsideTheLabelBoundsIsRefusedNamingIt() throws Exception {
    Map<String, String> huge = Map.of("app", "v".repeat(1 << 20));

    Status list = refusal(() -> alice.listVms(ListVmsRequest.newBuilder()
        .putAllLabelSelector(huge).build()));
    Status watch = refusal(() -> alice.watchVms(WatchVmsRequest.newBuilder()
        .putAllLabelSelector(huge).build()).hasNext());

    assertThat(list.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(list.getDescription()).startsWith("label_selector[\"app\"]: the value is 1048576 bytes");
    assertThat(watch.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(watch.getDescription()).startsWith("label_selector[\"app\"]");
  }

  /** Keys stored before their syntax was enforced (capitals, '/') can still be selected. */
  @Test
  void aSelectorKeyOutsideTheKeySyntaxIsStillAQuestion() throws Exception {
    var page = alice.listVms(ListVmsRequest.newBuilder()
        .putLabelSelector("Team/App", "web").build());

    assertThat(page.getVmsCount()).isZero();
  }

  private static Status refusal(Runnable call) {
    StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class, call::run);
    assertThat(e).as("refused").isNotNull();
    return e.getStatus();
  }
}
