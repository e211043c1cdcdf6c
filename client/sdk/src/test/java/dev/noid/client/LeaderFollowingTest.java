package dev.noid.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.ExecStart;
import dev.noid.api.v1.Vm;
import dev.noid.common.tls.Certificates;
import dev.noid.common.tls.KeyAndCertificate;
import dev.noid.common.tls.Pem;
import io.grpc.ChannelCredentials;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.TlsChannelCredentials;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A client given three controllers (real TLS servers on loopback, one CA) talks to the one
 * whose {@code noid.leader} health is SERVING, and follows it when leadership moves.
 */
class LeaderFollowingTest {
  private static final KeyAndCertificate CA = Certificates.newCertificateAuthority("test CA");
  private final List<FakeController> controllers = new ArrayList<>();
  private NoidClient client;
  private String target;
  private ChannelCredentials tls;

  @BeforeEach
  void start() throws IOException {
    KeyAndCertificate cert = Certificates.newServerCertificate(CA, "controller", List.of());
    for (String id : List.of("a", "b", "c")) {
      controllers.add(new FakeController(id, cert));
    }
    target = controllers.stream().map(c -> "localhost:" + c.port())
        .collect(Collectors.joining(","));
    tls = TlsChannelCredentials.newBuilder().trustManager(
        new ByteArrayInputStream(Pem.encode(CA.certificate()).getBytes(StandardCharsets.US_ASCII))).build();
    client = NoidClient.builder().token("t").deadline(Duration.ofSeconds(20))
        .channel(TargetChannels.build(target, tls, 4)).build();
  }

  @AfterEach
  void stop() {
    client.close();
    controllers.forEach(FakeController::close);
  }

  private FakeController controller(String id) {
    return controllers.stream().filter(c -> c.id.equals(id)).findFirst().orElseThrow();
  }

  private Set<String> servedBy(int calls) {
    Set<String> ids = new HashSet<>();
    for (int i = 0; i < calls; i++) {
      ids.add(client.getVm("x").getName());
    }
    return ids;
  }

  /**
   * A destroy the leader may have applied before it went away is not sent again: the VM is
   * looked up by name, and a VM of that name made meanwhile (CI runners reuse names) was the
   * one the repeat destroyed.
   */
  @Test
  void aDestroyThatMayHaveBeenAppliedIsNotRepeated() {
    controller("a").lead();

    Throwable t = org.assertj.core.api.Assertions.catchThrowable(() -> client.destroyVm("web"));

    assertThat(t).isNotNull();
    assertThat(controller("a").destroys.get()).isEqualTo(1);
  }

  /**
   * A delete retried after its answer was lost finds the checkpoint gone: that is what the
   * caller asked for, not NOT_FOUND (which sent scripts after a checkpoint already deleted).
   */
  @Test
  void aDeleteRetriedAfterItsAnswerWasLostSucceeds() {
    controller("a").lead();
    controller("a").checkpoints.add("ck-1");

    client.deleteCheckpoint("ck-1");

    assertThat(controller("a").checkpoints).isEmpty();
  }

  /** Without a lost attempt before it, NOT_FOUND is the answer: no such checkpoint. */
  @Test
  void aDeleteOfACheckpointThatIsNotThereIsNotFound() {
    controller("a").lead();

    assertNotFound(catchThrowable(() -> client.deleteCheckpoint("ck-typo")));
  }

  private static void assertNotFound(Throwable t) {
    assertThat(t).isInstanceOf(NoidException.class);
    assertThat(((NoidException) t).code()).isEqualTo(Status.Code.NOT_FOUND);
  }

  /**
   * A first attempt the controller refused before doing anything (no leader yet) leaves no
   * doubt: the retry's NOT_FOUND means there was no such checkpoint.
   */
  @Test
  void aDeleteRetriedAfterARefusalThatDidNothingIsNotFound() {
    controller("a").lead();

    assertNotFound(catchThrowable(() -> client.deleteCheckpoint("refused-ck")));
  }

  @Test
  void callsGoOnlyToTheLeader() {
    controller("b").lead();
    assertThat(servedBy(12)).containsExactly("b");
  }

  @Test
  void callsFollowTheLeaderWhenItStepsDown() {
    controller("b").lead();
    assertThat(servedBy(3)).containsExactly("b");

    controller("b").follow();
    controller("c").lead();

    await().atMost(Duration.ofSeconds(10)).until(() -> client.getVm("x").getName().equals("c"));
    assertThat(servedBy(12)).containsExactly("c");
  }

  @Test
  void callsFollowTheLeaderWhenItDies() {
    controller("a").lead();
    assertThat(servedBy(3)).containsExactly("a");

    controller("a").close();
    controller("b").lead();

    await().atMost(Duration.ofSeconds(10)).until(() -> client.getVm("x").getName().equals("b"));
    assertThat(servedBy(12)).containsExactly("b");
  }

  /** A channel of one attempt (a retry cannot pass for waiting) that knows none leads. */
  private ManagedChannel noLeaderKnown(Duration leaderWait) {
    ManagedChannel ch = TargetChannels.build(target, tls, 1, leaderWait);
    await().atMost(Duration.ofSeconds(10))
        .until(() -> ch.getState(true) == ConnectivityState.TRANSIENT_FAILURE);
    return ch;
  }

  @Test
  void aCallMadeWhileNoneLeadsWaitsForALeader() throws Exception {
    try (NoidClient once = NoidClient.builder().token("t").deadline(Duration.ofSeconds(20))
        .channel(noLeaderKnown(Duration.ofSeconds(30))).build()) {
      CompletableFuture<Vm> pending = once.getVmAsync("x");
      controller("c").lead();

      assertThat(pending.get(10, TimeUnit.SECONDS).getName()).isEqualTo("c");
    }
  }

  /**
   * An exec has no deadline, yet started in a failover's seconds it waits for the next leader
   * as other calls do (it used to fail at once: `noid exec` right after the leader died).
   */
  @Test
  void anExecStartedWhileNoneLeadsWaitsForALeader() throws Exception {
    try (NoidClient once = NoidClient.builder().token("t").deadline(Duration.ofSeconds(20))
        .channel(noLeaderKnown(Duration.ofSeconds(30))).build()) {
      Recorder ran = new Recorder();
      once.exec(ExecStart.newBuilder().setVm("x").addCommand("true").build(), ran);
      controller("c").lead();

      assertThat(ran.exited.get(10, TimeUnit.SECONDS)).isZero();
      assertThat(ran.out()).isEqualTo("c");
    }
  }

  /** ... but not for good: a stream has no deadline to end that wait. */
  @Test
  void anExecGivesUpWhenNoneLeadsWithinTheLeaderWait() {
    try (NoidClient once = NoidClient.builder().token("t").deadline(Duration.ofSeconds(20))
        .channel(noLeaderKnown(Duration.ofMillis(700))).build()) {
      Throwable t = catchThrowable(() -> once.exec("x", List.of("true")));

      assertThat(t).isInstanceOfSatisfying(NoidException.class, e -> {
        assertThat(e.code()).isEqualTo(Status.Code.UNAVAILABLE);
        assertThat(e.getMessage()).contains("no controller leads").contains("0.7 s");
      });
    }
  }

  /**
   * A stream a controller took is not given up, even when it is not "ready": a command that
   * does not read its input for longer than the wait, with megabytes of it queued.
   */
  @Test
  void anExecALeaderTookIsNotGivenUpWhileItsInputWaits() throws Exception {
    controller("c").lead();
    ManagedChannel ch = TargetChannels.build(target, tls, 1, Duration.ofMillis(300));
    try (NoidClient once = NoidClient.builder().token("t").deadline(Duration.ofSeconds(20))
        .channel(ch).build()) {
      assertThat(once.awaitConnected(Duration.ofSeconds(10))).isTrue();
      Recorder ran = new Recorder();
      ExecSession session = once.exec(ExecStart.newBuilder().setVm("x").addCommand("slow")
          .addCommand("1500").setStdin(true).build(), ran);
      byte[] chunk = new byte[64 * 1024];
      for (int i = 0; i < 48; i++) {
        session.stdin(chunk);
      }

      assertThat(ran.exited.get(10, TimeUnit.SECONDS)).isZero();
    }
  }

  /** A command started without stdin can still be signalled (the call is not half-closed). */
  @Test
  void aCommandWithoutStdinCanBeSignalled() throws Exception {
    controller("a").lead();
    Recorder ran = new Recorder();
    ExecSession session = client.exec(ExecStart.newBuilder().setVm("x")
        .addCommand("await-signal").build(), ran);

    session.signal(15);

    assertThat(ran.exited.get(10, TimeUnit.SECONDS)).isEqualTo(15);
  }

  /**
   * A caller feeding a large input can wait for room between chunks (stdin itself never
   * waits): with megabytes queued and the command reading none, there is none.
   */
  @Test
  void awaitWritableSaysWhenTheQueuedInputIsNotBeingRead() throws Exception {
    controller("a").lead();
    Recorder ran = new Recorder();
    ExecSession session = client.exec(ExecStart.newBuilder().setVm("x").addCommand("slow")
        .addCommand("2000").setStdin(true).build(), ran);
    assertThat(session.awaitWritable(Duration.ofSeconds(10))).as("room for the first input").isTrue();

    byte[] chunk = new byte[64 * 1024];
    for (int i = 0; i < 48; i++) {
      session.stdin(chunk);
    }

    assertThat(session.awaitWritable(Duration.ofMillis(300))).as("3 MiB queued, none read").isFalse();
    assertThat(ran.exited.get(10, TimeUnit.SECONDS)).isZero();
    assertThat(session.awaitWritable(Duration.ofSeconds(1))).as("the call is over").isFalse();
  }

  /** What the caller sends after the wait gave up is dropped, not thrown at it. */
  @Test
  void aConsoleGivenUpTakesInputAndDetachQuietly() throws Exception {
    try (NoidClient once = NoidClient.builder().token("t").deadline(Duration.ofSeconds(20))
        .channel(noLeaderKnown(Duration.ofMillis(300))).build()) {
      CompletableFuture<NoidException> ended = new CompletableFuture<>();
      ConsoleSession console = once.console("x", b -> { }, ended::complete);

      assertThat(ended.get(10, TimeUnit.SECONDS).getMessage()).contains("no controller leads");
      console.send("ls\n".getBytes(StandardCharsets.UTF_8));
      console.detach();
    }
  }

  /** Keeps a command's stdout and completes with its exit code. */
  private static final class Recorder implements ExecListener {
    final CompletableFuture<Integer> exited = new CompletableFuture<>();
    private final StringBuffer out = new StringBuffer();

    String out() {
      return out.toString();
    }

    @Override
    public void onStdout(byte[] data) {
      out.append(new String(data, StandardCharsets.UTF_8));
    }

    @Override
    public void onStderr(byte[] data) {}

    @Override
    public void onExit(int exitCode, boolean timedOut, boolean truncated) {
      exited.complete(exitCode);
    }

    @Override
    public void onError(NoidException error) {
      exited.completeExceptionally(error);
    }
  }

  @Test
  void aConsoleAttachedWhileNoneLeadsWaitsForALeader() throws Exception {
    try (NoidClient once = NoidClient.builder().token("t").deadline(Duration.ofSeconds(20))
        .channel(noLeaderKnown(Duration.ofSeconds(30))).build()) {
      CompletableFuture<NoidException> ended = new CompletableFuture<>();
      once.console("x", b -> { }, ended::complete);
      controller("c").lead();

      // The fake leader has no console: that it answered so shows the call reached it.
      assertThat(ended.get(10, TimeUnit.SECONDS).code()).isEqualTo(Status.Code.UNIMPLEMENTED);
    }
  }

  @Test
  void aCreateWithoutRequestIdGetsOneAndAGivenOneIsKept() {
    controller("a").lead();

    Vm first = client.createVm(CreateVmRequest.newBuilder().setName("v").build());
    Vm second = client.createVm(CreateVmRequest.newBuilder().setName("v").build());
    Vm given = client.createVm(CreateVmRequest.newBuilder().setName("v").setRequestId("mine").build());

    assertThat(first.getImage()).isNotEmpty().isNotEqualTo(second.getImage());
    assertThat(given.getImage()).isEqualTo("mine");
  }

  @Test
  void awaitingAConnectionEndsWhenOneLeadsAndGivesUpWhenNoneDoes() throws Exception {
    assertThat(client.awaitConnected(Duration.ofMillis(500))).as("nobody leads").isFalse();

    controller("a").lead();

    assertThat(client.awaitConnected(Duration.ofSeconds(10))).isTrue();
    controllers.forEach(FakeController::close);
    await().atMost(Duration.ofSeconds(10))
        .until(() -> !client.awaitConnected(Duration.ofMillis(100)));
  }
}
