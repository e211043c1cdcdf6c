package dev.noid.agent.it;

import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.controller.testing.ControllerProcess;
import io.grpc.ManagedChannel;
import java.nio.file.Path;
import java.util.List;

/**
 * A controller and node-a on the host, and node-b in a network namespace joined to the host by
 * a veth pair ({@link VethLink}), whose link a test cuts: the cluster the live-migration link
 * tests run on.
 */
final class IslandCluster implements AutoCloseable {
  final VethLink island;
  final ControllerProcess controller;
  final AgentProcess a;
  final AgentProcess b;
  final String admin;
  final ManagedChannel channel;

  private IslandCluster(VethLink island, ControllerProcess controller, AgentProcess a,
      AgentProcess b, String admin) throws Exception {
    this.island = island;
    this.controller = controller;
    this.a = a;
    this.b = b;
    this.admin = admin;
    this.channel = controller.channel();
  }

  static IslandCluster start(Path dir) throws Exception {
    VethLink island = VethLink.create();
    ControllerProcess controller = null;
    AgentProcess a = null;
    AgentProcess b = null;
    try {
      controller = new ControllerProcess(dir.resolve("controller"), dir,
          "--tls-name", island.hostAddress()).start();
      String admin = controller.admin("users", "add", "admin", "--role", "admin");
      a = new AgentProcess(dir.resolve("node-a"), dir,
          ClusterApi.joinArgs(controller, controller.address(), "node-a")).start();
      b = new AgentProcess(dir.resolve("node-b"), dir, ClusterApi.joinArgs(controller,
          island.hostAddress() + ":" + controller.grpcPort, "node-b"))
          .inNetns(island.ns, island.innerAddress()).start();
      IslandCluster cluster = new IslandCluster(island, controller, a, b, admin);
      cluster.awaitReady();
      return cluster;
    } catch (Exception | Error e) {
      closeAll(e, b, a, controller, island);
      throw e;
    }
  }

  // Each one whatever the others do, so that no namespace or veth pair is left behind.
  private static void closeAll(Throwable first, AutoCloseable... all) {
    for (AutoCloseable c : all) {
      if (c == null) {
        continue;
      }
      try {
        c.close();
      } catch (Exception e) {
        first.addSuppressed(e);
      }
    }
  }

  void awaitReady() {
    ClusterApi.awaitReady(channel, admin, 2);
  }

  VmServiceGrpc.VmServiceBlockingStub vms() {
    return ClusterApi.vms(channel, admin);
  }

  static List<ProcessHandle> vmms(AgentProcess agent) {
    return Vmms.qemu(agent.stateDir.toString());
  }

  @Override
  public void close() throws Exception {
    Exception failed = new Exception("closing the island cluster failed");
    closeAll(failed, b, a, controller, island);
    if (failed.getSuppressed().length > 0) {
      throw failed;
    }
  }
}
