package dev.noid.agent.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.noid.api.agent.v1.AgentGrpc;
import dev.noid.api.agent.v1.CreateVmsRequest;
import dev.noid.api.agent.v1.CreateVmsResponse;
import dev.noid.api.agent.v1.DestroyVmRequest;
import dev.noid.api.agent.v1.DestroyVmResponse;
import dev.noid.common.grpc.ControllerEpochHeaders;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A controller that lost the lead cannot act on a node's VMs: over a real socket, an agent
 * that has heard of a newer controller epoch turns the older one's calls away before they
 * reach the agent's handlers, and keeps doing so after it restarts.
 */
class ControllerEpochFenceTest {
  @TempDir Path tls;
  private final List<String> destroyed = new CopyOnWriteArrayList<>();
  private Server server;
  private ManagedChannel channel;
  private ControllerEpochFloor floor;

  /** What the fence guards: the agent API's handlers, here recording what they ran. */
  private final class FakeAgent extends AgentGrpc.AgentImplBase {
    @Override
    public StreamObserver<CreateVmsRequest> createVmsStream(
        StreamObserver<CreateVmsResponse> out) {
      ((io.grpc.stub.ServerCallStreamObserver<CreateVmsResponse>) out).setOnCancelHandler(
          () -> {
            destroyed.add("cancelled");
            // What a handler still does after (an exec's late output): goes nowhere, no throw.
            out.onNext(CreateVmsResponse.getDefaultInstance());
            out.onCompleted();
          });
      return new StreamObserver<>() {
        @Override
        public void onNext(CreateVmsRequest batch) {
          destroyed.add("batch " + batch.getBatch());
          out.onNext(CreateVmsResponse.newBuilder().setBatch(batch.getBatch()).build());
        }

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {
          out.onCompleted();
        }
      };
    }

    @Override
    public void destroyVm(DestroyVmRequest request, StreamObserver<DestroyVmResponse> out) {
      destroyed.add(request.getId());
      out.onNext(DestroyVmResponse.getDefaultInstance());
      out.onCompleted();
    }
  }

  @AfterEach
  void stop() throws Exception {
    if (channel != null) {
      channel.shutdownNow();
    }
    if (server != null) {
      server.shutdownNow().awaitTermination();
    }
  }

  /** An agent serving on a real port with the fence over the floor kept in {@code tls}. */
  private void startAgent() throws Exception {
    stop();
    server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(ServerInterceptors.intercept(new FakeAgent(),
            new ControllerEpochFence(floor = ControllerEpochFloor.open(tls))))
        .build().start();
    channel = NettyChannelBuilder.forAddress("127.0.0.1", server.getPort()).usePlaintext()
        .build();
  }

  /** A destroy as the controller at {@code epoch} sends it (null: no stamp at all). */
  private void destroyAs(String epoch, String vm) {
    Metadata stamp = new Metadata();
    if (epoch != null) {
      stamp.put(ControllerEpochHeaders.EPOCH, epoch);
    }
    AgentGrpc.newBlockingStub(channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(stamp))
        .destroyVm(DestroyVmRequest.newBuilder().setId(vm).build());
  }

  @Test
  void aDeposedLeadersCallIsRefusedOnceTheNewLeaderHasCalled() throws Exception {
    startAgent();
    destroyAs("1", "web-1");
    destroyAs("2", "web-2"); // the new leader, after a failover

    assertThatThrownBy(() -> destroyAs("1", "web-3"))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
          assertThat(e.getStatus().getDescription())
              .contains("from controller epoch 2 on", "came from epoch 1", "lost the lead");
          assertThat(e.getTrailers().get(ControllerEpochHeaders.NEWEST)).isEqualTo("2");
        });
    assertThat(destroyed).as("the deposed leader's destroy never ran")
        .containsExactly("web-1", "web-2");
  }

  /**
   * A leader's create stream to a node lives as long as it leads, and was checked only when it
   * started: a leader that wakes from a pause must not create VMs on it after a takeover.
   */
  @Test
  void aStreamOfTheDeposedLeaderEndsAtItsNextMessage() throws Exception {
    startAgent();
    Metadata stamp = new Metadata();
    stamp.put(ControllerEpochHeaders.EPOCH, "1");
    java.util.concurrent.LinkedBlockingQueue<Object> answers =
        new java.util.concurrent.LinkedBlockingQueue<>();
    StreamObserver<CreateVmsRequest> stream = AgentGrpc.newStub(channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(stamp))
        .createVmsStream(new StreamObserver<>() {
          @Override
          public void onNext(CreateVmsResponse r) {
            answers.add(r.getBatch());
          }

          @Override
          public void onError(Throwable t) {
            answers.add(t);
          }

          @Override
          public void onCompleted() {}
        });
    stream.onNext(CreateVmsRequest.newBuilder().setBatch(1).build());
    assertThat(answers.poll(10, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo(1L);

    floor.raise(2); // the new leader's heartbeat answer
    stream.onNext(CreateVmsRequest.newBuilder().setBatch(2).build());
    assertThat(answers.poll(10, java.util.concurrent.TimeUnit.SECONDS))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
          assertThat(e.getTrailers().get(ControllerEpochHeaders.NEWEST)).isEqualTo("2");
        });
    assertThat(destroyed).as("the second batch never reached the handler, which heard the"
        + " call cancelled (an exec's command is killed then)")
        .containsExactly("batch 1", "cancelled");
  }

  @Test
  void anAgentThatRestartsStillRefusesTheDeposedLeader() throws Exception {
    startAgent();
    destroyAs("2", "web-1");

    startAgent(); // a new process: the floor comes from its TLS directory
    assertThatThrownBy(() -> destroyAs("1", "web-2"))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(
            e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION));
    destroyAs("2", "web-3");
    assertThat(destroyed).containsExactly("web-1", "web-3");
    assertThat(Files.readString(tls.resolve(ControllerEpochFloor.FILE)).strip()).isEqualTo("2");
  }

  @Test
  void aHeartbeatsAnswerFencesTheOldLeaderBeforeTheNewOneCalls() throws Exception {
    startAgent();
    destroyAs("1", "web-1");
    ControllerEpochFloor.open(tls).raise(3); // what the Heartbeater does with the answer
    startAgent();

    assertThatThrownBy(() -> destroyAs("2", "web-2"))
        .isInstanceOf(StatusRuntimeException.class).hasMessageContaining("epoch 3 on");
    assertThat(destroyed).containsExactly("web-1");
  }

  @Test
  void anUnstampedCallCountsAsEpochZero() throws Exception {
    startAgent();
    destroyAs(null, "web-1"); // a controller alone (SQLite) has epoch 0
    destroyAs("4", "web-2");

    assertThatThrownBy(() -> destroyAs(null, "web-3"))
        .isInstanceOf(StatusRuntimeException.class).hasMessageContaining("came from epoch 0")
        .hasMessageContaining("delete " + tls.resolve(ControllerEpochFloor.FILE));
    assertThat(destroyed).containsExactly("web-1", "web-2");
  }

  @Test
  void aStampThatIsNotANumberIsRefusedByName() throws Exception {
    startAgent();
    assertThatThrownBy(() -> destroyAs("two", "web-1"))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
          assertThat(e.getStatus().getDescription()).contains("noid-controller-epoch", "'two'");
        });
    assertThat(destroyed).isEmpty();
  }

  @Test
  void aFloorFileThatCannotBeReadStopsTheStartWithItsName() throws Exception {
    Files.writeString(tls.resolve(ControllerEpochFloor.FILE), "garbage\n");
    assertThatThrownBy(() -> ControllerEpochFloor.open(tls))
        .hasMessageContaining(tls.resolve(ControllerEpochFloor.FILE).toString())
        .hasMessageContaining("one decimal number");
  }
}
