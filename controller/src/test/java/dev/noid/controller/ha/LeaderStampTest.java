package dev.noid.controller.ha;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.noid.api.agent.v1.AgentGrpc;
import dev.noid.api.agent.v1.CreateVmsRequest;
import dev.noid.api.agent.v1.CreateVmsResponse;
import dev.noid.api.agent.v1.DestroyVmRequest;
import dev.noid.api.agent.v1.DestroyVmResponse;
import dev.noid.common.grpc.ControllerEpochHeaders;
import dev.noid.controller.agents.grpc.LeaderStamp;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The controller's half of fencing agents, over a real socket: each call carries the leader's
 * epoch, a leader whose lease is overdue by its own clock makes no call, and an agent's refusal
 * naming a newer epoch reaches the lease (raised once, however many calls are refused).
 */
class LeaderStampTest {
  private final List<String> stamps = new CopyOnWriteArrayList<>();
  private final List<Long> raises = new CopyOnWriteArrayList<>();
  private final List<Long> batches = new CopyOnWriteArrayList<>();
  private volatile long agentsNewest; // 0: the agent takes every call
  private Server agent;
  private ManagedChannel channel;

  /**
   * An agent as ControllerEpochFence answers: it refuses a call stamped below the newest epoch
   * it knows, with that epoch in a trailer, and records the stamps it took.
   */
  private final class FakeFencedAgent extends AgentGrpc.AgentImplBase implements
      ServerInterceptor {
    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
        ServerCallHandler<Q, R> next) {
      String stamp = headers.get(ControllerEpochHeaders.EPOCH);
      if (stamp != null && Long.parseLong(stamp) < agentsNewest) {
        Metadata trailers = new Metadata();
        trailers.put(ControllerEpochHeaders.NEWEST, Long.toString(agentsNewest));
        call.close(Status.FAILED_PRECONDITION.withDescription("older epoch"), trailers);
        return new ServerCall.Listener<>() {};
      }
      stamps.add(String.valueOf(stamp));
      return next.startCall(call, headers);
    }

    @Override
    public StreamObserver<CreateVmsRequest> createVmsStream(
        StreamObserver<CreateVmsResponse> out) {
      return new StreamObserver<>() {
        @Override
        public void onNext(CreateVmsRequest batch) {
          batches.add(batch.getBatch());
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
      out.onNext(DestroyVmResponse.getDefaultInstance());
      out.onCompleted();
    }
  }

  @BeforeEach
  void start() throws Exception {
    FakeFencedAgent fake = new FakeFencedAgent();
    agent = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(ServerInterceptors.intercept(fake, fake)).build().start();
    channel = NettyChannelBuilder.forAddress("127.0.0.1", agent.getPort()).usePlaintext()
        .build();
  }

  @AfterEach
  void stop() throws Exception {
    channel.shutdownNow();
    agent.shutdownNow().awaitTermination();
  }

  /** A leader among others at {@code epoch}, its lease renewed until {@code renewedFor}. */
  private Leadership leaderAt(long epoch, Duration renewedFor) {
    Leadership l = Leadership.among("10.0.0.1:7655", List::of, raises::add);
    l.lead(epoch);
    l.renewedUntil(System.nanoTime() + renewedFor.toNanos());
    return l;
  }

  private void destroy(Leadership leadership) {
    AgentGrpc.newBlockingStub(channel).withInterceptors(new LeaderStamp(leadership))
        .destroyVm(DestroyVmRequest.newBuilder().setId("web-1").build());
  }

  @Test
  void everyCallCarriesTheLeadersEpoch() {
    destroy(leaderAt(3, Duration.ofMinutes(1)));
    destroy(Leadership.alone("10.0.0.1:7655"));
    assertThat(stamps).containsExactly("3", "0");
  }

  @Test
  void aLeaderWhoseLeaseIsOverdueMakesNoCall() {
    // A process that woke from a pause longer than its lease, before its election noticed.
    Leadership paused = leaderAt(3, Duration.ofMillis(-1));
    assertThatThrownBy(() -> destroy(paused))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
          assertThat(e.getStatus().getDescription()).contains("may no longer lead (epoch 3)");
        });
    assertThat(stamps).as("nothing reached the agent").isEmpty();
  }

  @Test
  void aRefusalNamingANewerEpochGoesToTheLease() {
    Leadership restored = leaderAt(6, Duration.ofMinutes(1)); // a store restored from a backup
    agentsNewest = 7;
    assertThatThrownBy(() -> destroy(restored)).isInstanceOf(StatusRuntimeException.class)
        .hasMessageContaining("FAILED_PRECONDITION");
    assertThat(raises).containsExactly(7L);
    assertThat(restored.outrankedBy()).isEqualTo(7);
  }

  @Test
  void anEpochTooFarAheadIsNotOurs() {
    Leadership leader = leaderAt(6, Duration.ofMinutes(1));
    leader.outranked(Leadership.MAX_EPOCH); // the next takeover's << 40 would overflow
    leader.outranked(Long.MAX_VALUE);
    leader.outranked(6 + Leadership.MAX_JUMP + 1); // further ahead than failovers could go
    assertThat(raises).isEmpty();
    leader.outranked(6 + Leadership.MAX_JUMP);
    assertThat(raises).containsExactly(6 + Leadership.MAX_JUMP);
  }

  /**
   * The create stream to each node lives as long as its leader: a leader that wakes from a
   * pause with its lease overdue must not send the next batch on it.
   */
  @Test
  void aStreamOfALeaderThatMayNoLongerLeadEndsAtItsNextMessage() throws Exception {
    Leadership leader = leaderAt(3, Duration.ofMinutes(1));
    java.util.concurrent.LinkedBlockingQueue<Object> answers =
        new java.util.concurrent.LinkedBlockingQueue<>();
    StreamObserver<CreateVmsRequest> stream = AgentGrpc.newStub(channel)
        .withInterceptors(new LeaderStamp(leader)).createVmsStream(new StreamObserver<>() {
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

    leader.renewedUntil(System.nanoTime() - 1); // paused past the lease
    stream.onNext(CreateVmsRequest.newBuilder().setBatch(2).build());
    assertThat(answers.poll(10, java.util.concurrent.TimeUnit.SECONDS))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(
            e.getStatus().getDescription()).contains("may no longer lead (epoch 3)"));
    assertThat(batches).as("the agent got the first batch only").containsExactly(1L);
  }

  @Test
  void anEpochNoNewerThanTheLeadersOwnRaisesNothing() {
    Leadership leader = leaderAt(6, Duration.ofMinutes(1));
    leader.outranked(5);
    leader.outranked(6);
    assertThat(raises).isEmpty();
  }
}
