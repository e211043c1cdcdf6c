package dev.noid.controller.agents.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import dev.noid.api.agent.v1.AgentVmState;
import dev.noid.api.agent.v1.CreateVmRequest;
import dev.noid.api.agent.v1.VmReport;
import dev.noid.api.agent.v1.VmSpec;
import dev.noid.controller.nodes.NodeRegistry;
import dev.noid.controller.scale.hollow.FakeAgent;
import dev.noid.controller.store.SqliteStore;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Creates for one node share batches, sent on the node's CreateVmsStream, and each caller still
 * gets its own answer.
 */
class BatchedCreatesTest {
  @TempDir Path dir;

  private final FakeAgent agent = FakeAgent.instant("node-a", 64L * 256);
  private SqliteStore store;
  private Server server;
  private AgentClients clients;
  private BatchedCreates creates;

  @BeforeEach
  void start() throws Exception {
    String name = "batched-" + System.nanoTime();
    store = SqliteStore.open(dir.resolve("noid.db"));
    NodeRegistry nodes = new NodeRegistry(store, Clock.systemUTC(), Duration.ofMinutes(5));
    nodes.register("node-a", "in-process", Map.of());
    server = InProcessServerBuilder.forName(name).addService(agent).build().start();
    clients = new AgentClients(n -> InProcessChannelBuilder.forName(name).build(), nodes);
    creates = new BatchedCreates(clients);
  }

  @AfterEach
  void stop() {
    agent.faults().openGate();
    clients.close();
    server.shutdownNow();
    store.close();
  }

  private static CreateVmRequest create(String id) {
    return CreateVmRequest.newBuilder().setSpec(VmSpec.newBuilder().setId(id).setCpus(1).setMemMib(256)).build();
  }

  private CompletableFuture<VmReport> inBackground(String id, long deadlineSeconds) {
    return CompletableFuture.supplyAsync(() -> creates.create("node-a", create(id), deadlineSeconds),
        command -> Thread.ofVirtual().start(command));
  }

  @Test
  void createsQueuedBehindACallInFlightGoTogetherInTheNextOne() throws Exception {
    agent.faults().closeGate();
    CompletableFuture<VmReport> first = inBackground("vm-0", 30);
    await().atMost(Duration.ofSeconds(10)).until(() -> agent.faults().atGate() == 1);
    List<CompletableFuture<VmReport>> rest = new ArrayList<>();
    for (int i = 1; i <= 10; i++) {
      rest.add(inBackground("vm-" + i, 30));
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> creates.queued("node-a") == 10);
    agent.faults().openGate();

    assertThat(first.get(10, TimeUnit.SECONDS).getSpec().getId()).isEqualTo("vm-0");
    for (int i = 1; i <= 10; i++) {
      VmReport r = rest.get(i - 1).get(10, TimeUnit.SECONDS);
      assertThat(r.getSpec().getId()).isEqualTo("vm-" + i);
      assertThat(r.getState()).isEqualTo(AgentVmState.AGENT_VM_STATE_RUNNING);
    }
    assertThat(agent.batchCalls()).isEqualTo(2);
    assertThat(agent.batchedCreates()).isEqualTo(11);
    assertThat(agent.vms()).hasSize(11);
  }

  @Test
  void eachCreateOfACallSucceedsOrFailsOnItsOwn() throws Exception {
    creates.create("node-a", create("taken"), 30);
    agent.faults().closeGate();
    CompletableFuture<VmReport> first = inBackground("vm-0", 30);
    await().atMost(Duration.ofSeconds(10)).until(() -> agent.faults().atGate() == 1);
    CompletableFuture<VmReport> dup = inBackground("taken", 30);
    CompletableFuture<VmReport> fine = inBackground("vm-1", 30);
    await().atMost(Duration.ofSeconds(10)).until(() -> creates.queued("node-a") == 2);
    agent.faults().openGate();

    assertThat(first.get(10, TimeUnit.SECONDS).getSpec().getId()).isEqualTo("vm-0");
    assertThat(fine.get(10, TimeUnit.SECONDS).getSpec().getId()).isEqualTo("vm-1");
    Throwable refused = catchThrowableOfType(java.util.concurrent.ExecutionException.class,
        () -> dup.get(10, TimeUnit.SECONDS)).getCause();
    assertThat(refused).isInstanceOf(StatusRuntimeException.class);
    assertThat(Status.fromThrowable(refused).getCode()).isEqualTo(Status.Code.ALREADY_EXISTS);
    assertThat(Status.fromThrowable(refused).getDescription()).isEqualTo("VM 'taken' already exists");
    assertThat(agent.batchCalls()).isEqualTo(3);
  }

  @Test
  void aCreateNeverWaitsInTheQueuePastItsDeadline() throws Exception {
    agent.faults().closeGate(); // the call in flight never comes back
    CompletableFuture<VmReport> first = inBackground("vm-0", 2);
    await().atMost(Duration.ofSeconds(10)).until(() -> agent.faults().atGate() == 1);
    StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
        () -> creates.create("node-a", create("vm-1"), 1));

    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
    assertThat(e.getStatus().getDescription()).contains("waited 1 s behind earlier creates");
    assertThat(creates.queued("node-a")).isZero();
    Throwable firstFailure = catchThrowableOfType(java.util.concurrent.ExecutionException.class,
        () -> first.get(30, TimeUnit.SECONDS)).getCause();
    assertThat(Status.fromThrowable(firstFailure).getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
  }

  @Test
  void batchesGoOneAfterAnotherOnOneStream() {
    for (int i = 0; i < 3; i++) {
      assertThat(creates.create("node-a", create("vm-" + i), 30).getSpec().getId()).isEqualTo("vm-" + i);
    }

    assertThat(agent.streamsOpened()).isEqualTo(1);
    assertThat(agent.streamedBatches()).isEqualTo(3);
    assertThat(agent.vms()).containsOnlyKeys("vm-0", "vm-1", "vm-2");
  }

  @Test
  void aBatchNotAnsweredInTimeFailsAndTheNextGoesOnAFreshStream() {
    creates.create("node-a", create("vm-0"), 30);
    agent.faults().closeGate();
    StatusRuntimeException late = catchThrowableOfType(StatusRuntimeException.class,
        () -> creates.create("node-a", create("vm-1"), 1));
    // The stuck batch still holds its stream on the agent: the next one must not queue behind it.
    StatusRuntimeException behind = catchThrowableOfType(StatusRuntimeException.class,
        () -> creates.create("node-a", create("vm-2"), 1));

    assertThat(late.getStatus().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
    assertThat(late.getStatus().getDescription()).isEqualTo("node node-a did not answer a batch of creates in time");
    assertThat(behind.getStatus().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
    assertThat(agent.faults().atGate()).isEqualTo(2);
    assertThat(agent.streamsOpened()).isEqualTo(2);
    agent.faults().openGate();
    assertThat(creates.create("node-a", create("vm-3"), 30).getSpec().getId()).isEqualTo("vm-3");
    assertThat(agent.streamsOpened()).isEqualTo(3);
  }

  @Test
  void aStreamEndedByTheNodeFailsItsBatchWithTheNodesStatusAndTheNextOpensAnother() {
    agent.faults().failNextBatch(Status.UNAVAILABLE.withDescription("agent shutting down"));
    StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
        () -> creates.create("node-a", create("vm-0"), 30));

    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(e.getStatus().getDescription()).isEqualTo("agent shutting down");
    assertThat(agent.vms()).isEmpty();
    assertThat(creates.create("node-a", create("vm-1"), 30).getSpec().getId()).isEqualTo("vm-1");
    assertThat(agent.streamsOpened()).isEqualTo(2);
    assertThat(agent.streamedBatches()).isEqualTo(2);
  }
}
