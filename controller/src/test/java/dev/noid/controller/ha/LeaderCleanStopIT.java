package dev.noid.controller.ha;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.Vm;
import dev.noid.api.v1.VmState;
import dev.noid.client.NoidClient;
import dev.noid.controller.scale.hollow.Faults;
import dev.noid.controller.testing.ControllerProcess;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A leader stopped cleanly (SIGTERM: an upgrade, a restart) keeps its lease while the calls
 * under way finish, then hands it over: a create waiting on its node when the stop begins
 * ends OK, and a follower leads after.
 */
class LeaderCleanStopIT {
  @TempDir Path dir;

  @Test
  void aCreateUnderWayWhenTheLeaderStopsEndsOkAndAFollowerThenLeads() throws Exception {
    try (HaCluster cluster = HaCluster.start(dir, 2)) {
      Faults node = cluster.joinNodes(1).faults(0);
      cluster.awaitNodesReady(1);
      ControllerProcess leader = cluster.leader();
      ControllerProcess follower = cluster.controllers.stream().filter(c -> c != leader)
          .findFirst().orElseThrow();
      NoidClient client = cluster.client(leader.address());
      node.closeGate();
      CompletableFuture<Vm> create = CompletableFuture.supplyAsync(() -> client.createVm(
          CreateVmRequest.newBuilder().setName("under-way").setCpus(1).setMemMib(128).build()));
      await().atMost(Duration.ofSeconds(30)).until(() -> node.atGate() == 1);

      leader.terminate();
      // The stop has begun once it no longer says it leads. The lease is written again after
      // that: renewed by the stopping leader, or taken by the follower had it been let go.
      await().atMost(Duration.ofSeconds(30)).until(() -> !leader.leads());
      long expiresWhenStopping = leaseExpiresMs(cluster);
      await().atMost(Duration.ofSeconds(30))
          .until(() -> leaseExpiresMs(cluster) > expiresWhenStopping);
      node.openGate();

      Vm made = create.get(30, TimeUnit.SECONDS);
      assertThat(made.getState()).as(made.getStatusMessage()).isEqualTo(VmState.VM_STATE_RUNNING);
      await().atMost(Duration.ofSeconds(30)).until(follower::leads);
      assertThat(cluster.client(follower.address()).getVm("under-way").getState())
          .isEqualTo(VmState.VM_STATE_RUNNING);
    }
  }

  private static long leaseExpiresMs(HaCluster cluster) throws Exception {
    try (Connection c = DriverManager.getConnection(cluster.storeUrl);
        Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT expires_ms FROM controller_lease")) {
      rs.next();
      return rs.getLong(1);
    }
  }
}
