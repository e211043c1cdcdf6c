package dev.noid.agent.it;

import static org.awaitility.Awaitility.await;

import dev.noid.api.v1.CreateCheckpointRequest;
import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.GetVmRequest;
import dev.noid.api.v1.ListNodesRequest;
import dev.noid.api.v1.MigrateVmRequest;
import dev.noid.api.v1.MigrationReport;
import dev.noid.api.v1.NodeServiceGrpc;
import dev.noid.api.v1.NodeState;
import dev.noid.api.v1.RestoreCheckpointRequest;
import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.controller.testing.ControllerProcess;
import io.grpc.ManagedChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * migration-bench (deploy/bench/migration-bench.sh): an idle guest moved between two real
 * agents, by live migration and by today's checkpoint move (checkpoint, copy, restore on the
 * other node), both measured the same way in the same run: the pause as the guest's own
 * CLOCK_MONOTONIC shows it against the host clock, read before and after through the public
 * exec API (best of three by round trip), and the whole move's time as its caller sees it.
 */
public final class MigrationBench {

  private final ManagedChannel channel;
  private final String token;

  private MigrationBench(ManagedChannel channel, String token) {
    this.channel = channel;
    this.token = token;
  }

  public static void main(String[] args) throws Exception {
    Path work = Path.of(arg(args, "--work-dir", System.getProperty("java.io.tmpdir")));
    int rounds = Integer.parseInt(arg(args, "--rounds", "5"));
    int memMib = Integer.parseInt(arg(args, "--mem-mib", "256"));
    Files.createDirectories(work);
    try (ControllerProcess controller = new ControllerProcess(work.resolve("controller"), work)
        .start()) {
      String admin = controller.admin("users", "add", "bench", "--role", "admin");
      String[] common = {"--controller", controller.address(), "--controller-ca",
          controller.ca().toString(), "--memory-mib", "2048"};
      // A join token is good for one node.
      try (AgentProcess a = new AgentProcess(work.resolve("node-a"), work, with(common,
              "--node-name", "node-a", "--join-token", controller.admin("join-token"))).start();
          AgentProcess b = new AgentProcess(work.resolve("node-b"), work, with(common,
              "--node-name", "node-b", "--join-token", controller.admin("join-token")))
              .start()) {
        ManagedChannel channel = controller.channel();
        await().atMost(Duration.ofSeconds(90)).until(() -> NodeServiceGrpc.newBlockingStub(channel)
            .withCallCredentials(ControllerProcess.bearer(admin))
            .listNodes(ListNodesRequest.getDefaultInstance()).getNodesList().stream()
            .filter(n -> n.getState() == NodeState.NODE_STATE_READY).count() == 2);
        new MigrationBench(channel, admin).run(rounds, memMib);
      }
    }
  }

  private static String[] with(String[] common, String... more) {
    List<String> all = new ArrayList<>(List.of(common));
    all.addAll(List.of(more));
    return all.toArray(String[]::new);
  }

  private static String arg(String[] args, String name, String fallback) {
    for (int i = 0; i + 1 < args.length; i++) {
      if (args[i].equals(name)) {
        return args[i + 1];
      }
    }
    return fallback;
  }

  private VmServiceGrpc.VmServiceBlockingStub vms() {
    return VmServiceGrpc.newBlockingStub(channel).withCallCredentials(ControllerProcess.bearer(token))
        .withDeadlineAfter(600, TimeUnit.SECONDS);
  }

  private record Row(long totalMs, long guestPauseMs, long errorMs, long vmmMs) {}

  private void run(int rounds, int memMib) throws Exception {
    vms().createVm(CreateVmRequest.newBuilder().setName("idle").setCpus(1).setMemMib(memMib)
        .setNode("node-a").setWait(true).build());
    List<Row> live = new ArrayList<>();
    List<Row> checkpoint = new ArrayList<>();
    for (int r = 0; r < rounds; r++) {
      live.add(liveMove(other()));
      checkpoint.add(checkpointMove(other()));
      System.err.printf("round %d: live %s, checkpoint move %s%n", r + 1, live.getLast(),
          checkpoint.getLast());
    }
    Row l = median(live);
    Row c = median(checkpoint);
    System.out.printf("| idle %d MiB guest, median of %d | move, ms | guest paused, ms |"
        + " VMM downtime, ms |%n| --- | --- | --- | --- |%n", memMib, rounds);
    System.out.printf("| live migration | %d | %d ±%d | %d |%n", l.totalMs, l.guestPauseMs,
        l.errorMs, l.vmmMs);
    System.out.printf("| checkpoint move (checkpoint, copy, restore) | %d | %d ±%d | - |%n",
        c.totalMs, c.guestPauseMs, c.errorMs);
    System.out.printf("%nguest pause, checkpoint move / live: %.1fx; whole move: %.1fx%n",
        (double) c.guestPauseMs / Math.max(1, l.guestPauseMs),
        (double) c.totalMs / Math.max(1, l.totalMs));
  }

  private String other() {
    String node = vms().getVm(GetVmRequest.newBuilder().setName("idle").build()).getVm().getNode();
    return node.equals("node-a") ? "node-b" : "node-a";
  }

  private Row liveMove(String target) {
    long t0 = System.nanoTime();
    MigrationReport m = vms().migrateVm(MigrateVmRequest.newBuilder().setName("idle")
        .setNode(target).setNoFallback(true).build()).getReport();
    long total = (System.nanoTime() - t0) / 1_000_000;
    return new Row(total, m.getDowntimeMs(), m.getDowntimeErrorMs(), m.getHypervisorDowntimeMs());
  }

  // The guest's clock stops when the checkpoint pauses it and runs again from that instant once
  // restored on the target; what the source did after the checkpoint is lost with its copy.
  private Row checkpointMove(String target) throws Exception {
    long[] before = offset();
    long t0 = System.nanoTime();
    String ck = vms().createCheckpoint(CreateCheckpointRequest.newBuilder().setVm("idle")
        .setLabel("bench").build()).getCheckpoint().getId();
    vms().restoreCheckpoint(RestoreCheckpointRequest.newBuilder().setVm("idle").setCheckpoint(ck)
        .setNode(target).build());
    long total = (System.nanoTime() - t0) / 1_000_000;
    long[] after = offset();
    vms().deleteCheckpoint(dev.noid.api.v1.DeleteCheckpointRequest.newBuilder().setId(ck)
        .build());
    return new Row(total, (after[0] - before[0]) / 1_000_000, (after[1] + before[1]) / 1_000_000,
        0);
  }

  /** {host ns - guest monotonic ns, half the round trip}, the best of three. */
  private long[] offset() {
    dev.noid.agent.vm.GuestClock.Offset o = dev.noid.agent.vm.GuestClock.best(() ->
        ApiExec.run(channel, token, "idle",
            dev.noid.agent.vm.GuestClock.COMMAND.toArray(String[]::new)).out());
    if (!o.known()) {
      throw new IllegalStateException("the guest's clock could not be read (/proc/timer_list)");
    }
    return new long[] {o.offsetNs(), o.errorNs()};
  }

  private static Row median(List<Row> rows) {
    List<Row> byPause = rows.stream().sorted(java.util.Comparator.comparingLong(Row::guestPauseMs))
        .toList();
    List<Long> totals = rows.stream().map(Row::totalMs).sorted().toList();
    Row mid = byPause.get(byPause.size() / 2);
    return new Row(totals.get(totals.size() / 2), mid.guestPauseMs, mid.errorMs, mid.vmmMs);
  }
}
