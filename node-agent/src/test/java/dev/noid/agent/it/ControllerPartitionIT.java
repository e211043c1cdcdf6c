package dev.noid.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.noid.api.v1.AddUserRequest;
import dev.noid.api.v1.ListUsersRequest;
import dev.noid.api.v1.User;
import dev.noid.api.v1.UserServiceGrpc;
import dev.noid.api.v1.WhoAmIRequest;
import dev.noid.controller.store.PostgresServer;
import dev.noid.controller.testing.ControllerProcess;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The leading controller cut off from PostgreSQL by a network partition (issue 22): it runs in
 * a network namespace joined to the host by a veth pair, and the link goes down while a write
 * of its waits on the store. It steps down within its lease; the pending write fails with the
 * fencing error, not silently and not applied; it exits for its supervisor, and a controller on
 * the host takes over with the next epoch.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ControllerPartitionIT {
  @TempDir static Path dir;
  private PostgresServer postgres;
  private VethLink island;
  private ControllerProcess cut;
  private ControllerProcess other;
  private String admin;

  @BeforeAll
  void start() throws Exception {
    postgres = PostgresServer.start("10.251.0.0/16");
    island = VethLink.create();
    String db = "noid_partition";
    postgres.createDatabase(db);
    cut = new ControllerProcess(dir.resolve("cut"), dir,
        "--store-url", postgres.jdbcUrl(island.hostAddress(), db));
    cut.withServeArgs("--advertise-address", island.innerAddress() + ":" + cut.grpcPort)
        .inNamespace(island.ns.prefix(), island.ns::forwardUnixSocket)
        .start();
    await().atMost(Duration.ofSeconds(30)).until(cut::leads);
    other = new ControllerProcess(dir.resolve("other"), dir,
        "--store-url", postgres.jdbcUrl("127.0.0.1", db));
    Path tls = Files.createDirectories(other.dataDir.resolve("tls"));
    for (String f : List.of("ca.pem", "ca-key.pem")) {
      Files.copy(cut.dataDir.resolve("tls").resolve(f), tls.resolve(f),
          StandardCopyOption.REPLACE_EXISTING);
    }
    other.withServeArgs("--advertise-address", other.address()).start();
    admin = other.admin("users", "add", "admin", "--role", "admin", "--store-url",
        postgres.jdbcUrl("127.0.0.1", db));
  }

  @AfterAll
  void stop() throws Exception {
    Netns.closeAll(cut, other, island, postgres);
  }

  private UserServiceGrpc.UserServiceBlockingStub users(ManagedChannel ch) {
    return UserServiceGrpc.newBlockingStub(ch).withCallCredentials(ControllerProcess.bearer(admin))
        .withDeadlineAfter(60, TimeUnit.SECONDS);
  }

  @Test
  void aLeaderCutOffFromTheStoreStepsDownAndItsPendingWriteFailsWithTheFence() throws Exception {
    ManagedChannel toCut = cut.channel();
    assertThat(users(toCut).whoAmI(WhoAmIRequest.getDefaultInstance()).getUser().getName())
        .isEqualTo("admin");

    island.cut();
    long cutAt = System.nanoTime();
    CompletableFuture<Object> pending = CompletableFuture.supplyAsync(() ->
        users(toCut).addUser(AddUserRequest.newBuilder().setName("during-the-cut").build()));

    assertThat(pending).failsWithin(Duration.ofSeconds(30)).withThrowableThat()
        .havingRootCause().isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
          assertThat(e.getStatus().getDescription()).contains("could not renew the lease");
        });
    long refusedMs = (System.nanoTime() - cutAt) / 1_000_000;
    await().atMost(Duration.ofSeconds(30)).until(() -> !cut.alive());
    System.out.printf("partition: the pending write was refused %d ms and the cut leader exited"
        + " %d ms after the cut%n", refusedMs, (System.nanoTime() - cutAt) / 1_000_000);
    assertThat(cut.exitValue()).as("exit code for its supervisor: start me again").isEqualTo(75);

    ManagedChannel toOther = other.channel();
    await().atMost(Duration.ofSeconds(30)).until(other::leads);
    assertThat(users(toOther).listUsers(ListUsersRequest.getDefaultInstance()).getUsersList())
        .extracting(User::getName).as("the refused write was not applied")
        .doesNotContain("during-the-cut");
    assertThat(users(toOther).addUser(AddUserRequest.newBuilder().setName("after").build())
        .getUser().getName()).isEqualTo("after");
  }
}
