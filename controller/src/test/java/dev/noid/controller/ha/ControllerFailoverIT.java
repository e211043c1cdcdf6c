package dev.noid.controller.ha;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.GetVmRequest;
import dev.noid.api.v1.Vm;
import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.api.v1.VmState;
import dev.noid.client.NoidClient;
import dev.noid.client.NoidException;
import dev.noid.client.WatchEvent;
import dev.noid.client.WatchListener;
import dev.noid.common.tls.TlsFiles;
import dev.noid.controller.testing.ControllerProcess;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three controllers as real processes on one real PostgreSQL, hollow agents that follow the
 * leader, and SDK clients given all three addresses (issue 22): one leads, the followers say
 * who, and a SIGKILLed leader is replaced while 4 clients make 200 creates, every one of which
 * ends exactly once.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ControllerFailoverIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir static Path dir;
  private HaCluster cluster;

  @BeforeAll
  void start() throws Exception {
    cluster = HaCluster.start(dir, 3);
    cluster.joinNodes(4);
  }

  @AfterAll
  void stop() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
  }

  private JsonNode health(ControllerProcess c) throws Exception {
    HttpClient http = HttpClient.newBuilder().sslContext(TlsFiles.trusting(c.ca())).build();
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(
        URI.create("https://localhost:" + c.httpsPort + "/health")).build(),
        HttpResponse.BodyHandlers.ofString());
    return JSON.readTree(r.body());
  }

  @Test
  @Order(1)
  void oneControllerLeadsAndTheFollowersNameIt() throws Exception {
    ControllerProcess leader = cluster.leader();
    JsonNode leaderHealth = health(leader);
    assertThat(leaderHealth.path("role").asText()).isEqualTo("leader");
    assertThat(leaderHealth.path("leader").asText()).isEqualTo(leader.address());
    assertThat(leaderHealth.path("epoch").asLong()).isPositive();
    assertThat(leaderHealth.has("vms")).as("the guide's fields stay").isTrue();

    for (ControllerProcess c : cluster.controllers) {
      if (c == leader) {
        continue;
      }
      JsonNode h = health(c);
      assertThat(h.path("role").asText()).isEqualTo("follower");
      assertThat(h.path("leader").asText()).isEqualTo(leader.address());
      assertThat(h.path("epoch").asLong()).isEqualTo(leaderHealth.path("epoch").asLong());
      // A client given only a follower can write too: the follower forwards to the leader.
      NoidClient viaFollower = clientOf(c);
      Vm made = viaFollower.createVm(CreateVmRequest.newBuilder().setName("via-" + c.grpcPort)
          .setCpus(1).setMemMib(128).build());
      assertThat(cluster.client().getVm(made.getName()).getNode()).isEqualTo(made.getNode());
      viaFollower.destroyVm(made.getName());
      // Agents' calls (their certificate is their identity) are not forwarded: the follower
      // names the leader.
      assertThatThrownBy(() -> dev.noid.api.agent.v1.NodeRegistrationGrpc.newBlockingStub(
          c.channel()).heartbeat(dev.noid.api.agent.v1.HeartbeatRequest.getDefaultInstance()))
          .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
            assertThat(e.getStatus().getDescription()).contains("the leader is " + leader.address());
            assertThat(e.getTrailers().get(Metadata.Key.of("noid-leader",
                Metadata.ASCII_STRING_MARSHALLER))).isEqualTo(leader.address());
            assertThat(e.getTrailers().containsKey(Metadata.Key.of("noid-not-applied",
                Metadata.ASCII_STRING_MARSHALLER))).as("refused before anything was done").isTrue();
          });
      // Reads it answers itself, for authenticated callers only.
      assertThatThrownBy(() -> VmServiceGrpc.newBlockingStub(c.channel())
          .withCallCredentials(ControllerProcess.bearer(cluster.adminToken))
          .getVm(GetVmRequest.newBuilder().setName("x").build()))
          .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(
              e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
      assertThatThrownBy(() -> VmServiceGrpc.newBlockingStub(c.channel())
          .withCallCredentials(ControllerProcess.bearer("noid_tok_" + "0".repeat(64)))
          .getVm(GetVmRequest.newBuilder().setName("x").build()))
          .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(
              e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED));
    }
  }

  private ControllerProcess aFollower() throws Exception {
    ControllerProcess leader = cluster.leader();
    return cluster.controllers.stream().filter(c -> c != leader && c.alive()).findFirst()
        .orElseThrow();
  }

  private NoidClient clientOf(ControllerProcess c) {
    return cluster.client(c.address());
  }

  @Test
  @Order(2)
  void followersServeReadsAndWatchesOfWhatTheLeaderWrote() throws Exception {
    NoidClient leaderClient = cluster.client();
    NoidClient follower = clientOf(aFollower());
    Vm made = leaderClient.createVm(CreateVmRequest.newBuilder().setName("read-1").setCpus(1)
        .setMemMib(128).build());
    // A follower trails the leader by up to a poll: NOT_FOUND until it has read the change.
    await().atMost(Duration.ofSeconds(10))
        .ignoreException(NoidException.NotFoundException.class)
        .untilAsserted(() -> assertThat(follower.getVm("read-1").getNode())
            .isEqualTo(made.getNode()));
    assertThat(follower.listVms()).extracting(Vm::getName).contains("read-1");

    WatchedView onFollower = new WatchedView();
    follower.watchVms(Map.of(), onFollower);
    await().atMost(Duration.ofSeconds(10)).until(onFollower::synced);
    assertThat(onFollower.states()).containsKey("read-1");
    leaderClient.createVm(CreateVmRequest.newBuilder().setName("read-2").setCpus(1)
        .setMemMib(128).build());
    leaderClient.destroyVm("read-1");
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(onFollower.states())
        .isEqualTo(states(leaderClient.listVms())));
    assertThat(onFollower.added).contains("read-2");
    assertThat(onFollower.disorder).isEmpty();
    leaderClient.destroyVm("read-2");

    // A stream it does not serve itself (nodes) is relayed from the leader, message by message.
    List<WatchEvent<dev.noid.api.v1.Node>> nodeEvents =
        new java.util.concurrent.CopyOnWriteArrayList<>();
    follower.watchNodes(0, nodeEvents::add);
    await().atMost(Duration.ofSeconds(10)).until(() -> nodeEvents.stream()
        .anyMatch(e -> e.type() == WatchEvent.Type.SYNCED));
    assertThat(nodeEvents.stream().filter(e -> e.type() == WatchEvent.Type.EXISTING))
        .hasSize(4);
  }

  /** What became of one create, as its client saw it. */
  private record Outcome(String name, boolean ok, String error) {}

  @Test
  @Order(3)
  void aKilledLeaderIsReplacedAndEveryCreateEndsExactlyOnce() throws Exception {
    ControllerProcess leader = cluster.leader();
    long epochBefore = health(leader).path("epoch").asLong();
    int clients = 4;
    int perClient = 50;
    Map<String, Outcome> outcomes = new ConcurrentHashMap<>();
    AtomicInteger done = new AtomicInteger();
    CountDownLatch killAt = new CountDownLatch(40);
    AtomicLong killedAt = new AtomicLong();
    AtomicLong firstAfter = new AtomicLong();
    List<Future<?>> runs = new ArrayList<>();
    WatchedView watched = new WatchedView();
    cluster.client().watchVms(Map.of(), watched);
    await().atMost(Duration.ofSeconds(30)).until(watched::synced);
    try (ExecutorService pool = Executors.newFixedThreadPool(clients)) {
      for (int k = 0; k < clients; k++) {
        NoidClient client = cluster.client();
        int id = k;
        runs.add(pool.submit(() -> {
          for (int i = 0; i < perClient; i++) {
            String name = "c" + id + "-" + i;
            CreateVmRequest req = CreateVmRequest.newBuilder().setName(name).setCpus(1)
                .setMemMib(128).setRequestId("req-" + name).build();
            long started = System.nanoTime();
            Outcome o = createWithRetries(client, req);
            if (o.ok() && killedAt.get() != 0 && started > killedAt.get()) {
              firstAfter.compareAndSet(0, System.nanoTime());
            }
            outcomes.put(name, o);
            done.incrementAndGet();
            killAt.countDown();
          }
          return null;
        }));
      }
      killAt.await();
      killedAt.set(System.nanoTime());
      leader.kill();
      for (Future<?> f : runs) {
        f.get();
      }
    }
    assertThat(outcomes).hasSize(clients * perClient);
    System.out.printf("failover: first create accepted %d ms after SIGKILL; %d of %d creates"
        + " OK; errors: %s%n", (firstAfter.get() - killedAt.get()) / 1_000_000,
        outcomes.values().stream().filter(Outcome::ok).count(), outcomes.size(),
        outcomes.values().stream().filter(o -> !o.ok()).map(Outcome::error).toList());

    ControllerProcess next = await().atMost(Duration.ofSeconds(30))
        .until(() -> cluster.controllers.stream().filter(c -> c.alive() && c.leads())
            .findFirst().orElse(null), c -> c != null);
    assertThat(health(next).path("epoch").asLong()).isGreaterThan(epochBefore);

    NoidClient check = cluster.client();
    // Nothing is left half made once the new leader has reconciled.
    await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(check.listVms())
        .noneMatch(v -> isTransitional(v.getState())));
    // The watch opened before the kill resumed on the new leader: its view is the VMs' list,
    // and it got there by replay of every change, not by starting over from a snapshot.
    await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(watched.states())
        .isEqualTo(states(check.listVms())));
    assertThat(watched.disorder).as("changes out of revision order").isEmpty();
    assertThat(watched.resyncs).as("snapshots after the first").isZero();
    assertThat(watched.added).as("every create answered OK was seen added")
        .containsAll(outcomes.values().stream().filter(Outcome::ok).map(Outcome::name).toList());
    Map<String, Integer> seen = new HashMap<>();
    Map<String, Vm> byName = new HashMap<>();
    for (Vm v : check.listVms()) {
      seen.merge(v.getName(), 1, Integer::sum);
      byName.put(v.getName(), v);
    }
    for (Outcome o : outcomes.values()) {
      if (o.ok()) {
        assertThat(seen.get(o.name())).as("%s, answered OK, exists once", o.name()).isEqualTo(1);
        assertThat(byName.get(o.name()).getState()).as("%s: %s", o.name(),
            byName.get(o.name()).getStatusMessage()).isEqualTo(VmState.VM_STATE_RUNNING);
      } else {
        assertThat(seen.getOrDefault(o.name(), 0)).as("%s (%s) exists at most once", o.name(),
            o.error()).isLessThanOrEqualTo(1);
      }
    }
    assertThat(outcomes.values().stream().filter(Outcome::ok).count())
        .as("creates answered OK").isGreaterThan(clients * perClient / 2);
  }

  private static Map<String, VmState> states(List<Vm> vms) {
    Map<String, VmState> m = new HashMap<>();
    vms.forEach(v -> m.put(v.getName(), v.getState()));
    return m;
  }

  /** What a program keeping a view from a watch has: a snapshot replaces it (at SYNCED). */
  private static final class WatchedView implements WatchListener<Vm> {
    private final Map<String, VmState> view = new HashMap<>();
    final List<String> disorder = new java.util.concurrent.CopyOnWriteArrayList<>();
    final java.util.Set<String> added = ConcurrentHashMap.newKeySet();
    private Map<String, VmState> snapshot;
    private boolean synced;
    int resyncs;
    private long lastRevision;

    @Override
    public synchronized void onEvent(WatchEvent<Vm> e) {
      switch (e.type()) {
        case EXISTING -> {
          if (snapshot == null) {
            snapshot = new HashMap<>();
            if (synced) {
              resyncs++;
            }
          }
          snapshot.put(e.item().getName(), e.item().getState());
        }
        case SYNCED -> {
          if (snapshot != null || !synced) {
            view.clear();
            if (snapshot != null) {
              view.putAll(snapshot);
            }
          }
          snapshot = null;
          synced = true;
        }
        case ADDED, MODIFIED -> {
          if (e.revision() <= lastRevision) {
            disorder.add(e.revision() + " after " + lastRevision);
          }
          lastRevision = e.revision();
          view.put(e.item().getName(), e.item().getState());
          if (e.type() == WatchEvent.Type.ADDED) {
            added.add(e.item().getName());
          }
        }
        case DELETED -> {
          lastRevision = e.revision();
          view.remove(e.item().getName());
        }
      }
    }

    synchronized boolean synced() {
      return synced;
    }

    synchronized Map<String, VmState> states() {
      return new HashMap<>(view);
    }
  }

  private static boolean isTransitional(VmState s) {
    return s == VmState.VM_STATE_PENDING || s == VmState.VM_STATE_SCHEDULED
        || s == VmState.VM_STATE_CREATING || s == VmState.VM_STATE_STOPPING
        || s == VmState.VM_STATE_DESTROYING;
  }

  // As a program using the SDK would: the same request (and request id) again after an error.
  private static Outcome createWithRetries(NoidClient client, CreateVmRequest req) {
    String last = "";
    for (int attempt = 0; attempt < 5; attempt++) {
      try {
        client.createVm(req);
        return new Outcome(req.getName(), true, "");
      } catch (NoidException e) {
        last = e.code() + ": " + e.getMessage();
        if (e.code() != Status.Code.UNAVAILABLE && e.code() != Status.Code.DEADLINE_EXCEEDED
            && e.code() != Status.Code.ABORTED) {
          break;
        }
      }
    }
    return new Outcome(req.getName(), false, last);
  }

  @Test
  @Order(4)
  void theKilledControllerComesBackAsAFollower() throws Exception {
    ControllerProcess dead = cluster.controllers.stream().filter(c -> !c.alive()).findFirst()
        .orElseThrow();
    dead.start();
    ControllerProcess leader = cluster.leader();
    assertThat(leader).isNotSameAs(dead);
    JsonNode h = health(dead);
    assertThat(h.path("role").asText()).isEqualTo("follower");
    assertThat(h.path("leader").asText()).isEqualTo(leader.address());
    // It serves reads again, from what the store holds now.
    assertThat(clientOf(dead).listVms()).extracting(Vm::getName)
        .containsExactlyInAnyOrderElementsOf(cluster.client().listVms().stream()
            .map(Vm::getName).toList());
  }
}
