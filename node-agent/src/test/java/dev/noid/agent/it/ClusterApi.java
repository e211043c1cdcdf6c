package dev.noid.agent.it;

import static org.awaitility.Awaitility.await;

import dev.noid.api.v1.ListNodesRequest;
import dev.noid.api.v1.NodeServiceGrpc;
import dev.noid.api.v1.NodeState;
import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.controller.testing.ControllerProcess;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * What the ITs of a controller with several agents do alike: an agent's arguments to join,
 * waiting until the nodes are ready, and the admin's VM stub.
 */
final class ClusterApi {
  private ClusterApi() {}

  /**
   * Arguments for an agent named {@code name} with 1 GiB that joins {@code controller}, which it
   * reaches at {@code controllerAddress}, with a join token of its own; then {@code extra}.
   */
  static String[] joinArgs(ControllerProcess controller, String controllerAddress, String name,
      String... extra) throws Exception {
    List<String> args = new ArrayList<>(List.of("--node-name", name, "--controller",
        controllerAddress, "--join-token", controller.admin("join-token"), "--controller-ca",
        controller.ca().toString(), "--memory-mib", "1024"));
    args.addAll(List.of(extra));
    return args.toArray(String[]::new);
  }

  static void awaitReady(ManagedChannel channel, String admin, int count) {
    await().atMost(Duration.ofSeconds(90)).until(() -> NodeServiceGrpc.newBlockingStub(channel)
        .withCallCredentials(ControllerProcess.bearer(admin))
        .listNodes(ListNodesRequest.getDefaultInstance()).getNodesList().stream()
        .filter(n -> n.getState() == NodeState.NODE_STATE_READY).count() == count);
  }

  static VmServiceGrpc.VmServiceBlockingStub vms(ManagedChannel channel, String admin) {
    return VmServiceGrpc.newBlockingStub(channel)
        .withCallCredentials(ControllerProcess.bearer(admin))
        .withDeadlineAfter(300, TimeUnit.SECONDS);
  }
}
