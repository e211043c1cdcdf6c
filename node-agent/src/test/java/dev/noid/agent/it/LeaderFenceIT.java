package dev.noid.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.noid.api.agent.v1.AgentGrpc;
import dev.noid.api.agent.v1.ListVmsRequest;
import dev.noid.common.grpc.ControllerEpochHeaders;
import dev.noid.controller.store.PostgresServer;
import dev.noid.controller.testing.ControllerProcess;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.stub.MetadataUtils;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * A leader that lost the lead cannot act on a node (issue 22), with real parts: two controller
 * processes on a real PostgreSQL and a real agent joined to both. Once the leader is killed and
 * the other takes over, the agent learns the new epoch from its heartbeat's answer, before the
 * new leader calls it, and from then on refuses a call made with the old leader's own
 * certificate and epoch, as a leader that woke from a long pause would make it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LeaderFenceIT {
  @TempDir static Path dir;
  private PostgresServer postgres;
  private ControllerProcess first;
  private ControllerProcess second;
  private AgentProcess agent;
  private ManagedChannel asFirst;

  @BeforeAll
  void start() throws Exception {
    postgres = PostgresServer.start();
    String url = postgres.createDatabase("noid_fence");
    first = new ControllerProcess(dir.resolve("c0"), dir, "--store-url", url);
    first.withServeArgs("--advertise-address", first.address()).start();
    await().atMost(Duration.ofSeconds(60)).until(first::leads);
    second = new ControllerProcess(dir.resolve("c1"), dir, "--store-url", url);
    Path tls = Files.createDirectories(second.dataDir.resolve("tls"));
    for (String f : List.of("ca.pem", "ca-key.pem")) {
      Files.copy(first.dataDir.resolve("tls").resolve(f), tls.resolve(f),
          StandardCopyOption.REPLACE_EXISTING);
    }
    second.withServeArgs("--advertise-address", second.address()).start();
    agent = new AgentProcess(dir.resolve("node-a"), dir, "--node-name", "node-a",
        "--controller", first.address() + "," + second.address(),
        "--join-token", first.admin("join-token", "--store-url", url),
        "--controller-ca", first.ca().toString()).start();
    // The first leader's own identity: what it calls agents with (its server certificate).
    Path own = first.dataDir.resolve("tls");
    asFirst = Grpc.newChannelBuilder("127.0.0.1:" + agent.grpcPort, TlsChannelCredentials
            .newBuilder().keyManager(own.resolve("server.pem").toFile(),
                own.resolve("server-key.pem").toFile())
            .trustManager(first.ca().toFile()).build())
        .overrideAuthority("localhost").build();
  }

  @AfterAll
  void stop() throws Exception {
    if (asFirst != null) {
      asFirst.shutdownNow();
    }
    Netns.closeAll(agent, first, second, postgres);
  }

  private Path floorFile() {
    return agent.stateDir.resolve("tls/controller-epoch");
  }

  private String floor() throws Exception {
    return Files.exists(floorFile()) ? Files.readString(floorFile()).strip() : "";
  }

  private void listVmsAtEpoch(String epoch) {
    Metadata stamp = new Metadata();
    stamp.put(ControllerEpochHeaders.EPOCH, epoch);
    AgentGrpc.newBlockingStub(asFirst).withDeadlineAfter(30, TimeUnit.SECONDS)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(stamp))
        .listVms(ListVmsRequest.getDefaultInstance());
  }

  @Test
  void afterAFailoverTheOldLeadersCallsAreRefusedByTheNode() throws Exception {
    await().atMost(Duration.ofSeconds(60)).until(() -> floor().equals("1"));
    listVmsAtEpoch("1"); // the leader's own calls go through while it leads

    first.kill();
    await().atMost(Duration.ofSeconds(60)).until(() -> floor().equals("2"));

    assertThatThrownBy(() -> listVmsAtEpoch("1"))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
          assertThat(e.getStatus().getDescription())
              .contains("from controller epoch 2 on", "came from epoch 1");
        });
    listVmsAtEpoch("2");
  }
}
