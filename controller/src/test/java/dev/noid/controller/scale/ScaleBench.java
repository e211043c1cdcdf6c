package dev.noid.controller.scale;

import dev.noid.controller.testing.ControllerProcess;

import static org.awaitility.Awaitility.await;

import dev.noid.api.v1.ListNodesRequest;
import dev.noid.api.v1.NodeState;
import dev.noid.client.NoidClient;
import dev.noid.controller.scale.hollow.HollowFleet;
import dev.noid.controller.scale.load.LoadGenerator;
import dev.noid.controller.scale.load.Mix;
import dev.noid.controller.scale.load.OpStats;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The scale benchmark (deploy/bench/scale-bench.sh runs it; docs/benchmarks.md has results): the
 * real controller jar as its own process, N hollow agents and the load generator in this one.
 * The fleet is filled with VMs in steps (1k, 10k, 100k by default); after each step it reports
 * creates per second (every create is placed, stored and run on a node before it returns), the
 * create latency, /health and /metrics latency, the controller's live heap, and the controller
 * CPU time heartbeats cost while nothing else happens. Then a mixed load at full size.
 */
public final class ScaleBench {
  private ScaleBench() {}

  record Options(Path controllerJar, Path workDir, int nodes, long[] steps, int concurrency,
      int users, int memMib, long hypervisorMs, int idleSeconds, int mixedSeconds, int probes,
      int singles, int batch, List<String> controllerJvm, List<String> controllerArgs) {
    static Options parse(String[] args) {
      Path jar = null;
      Path work = null;
      int nodes = 1000;
      long[] steps = {1_000, 10_000, 100_000};
      int concurrency = 64;
      int users = 50;
      int mem = 128;
      long hyp = 0;
      int idle = 10;
      int mixed = 20;
      int probes = 100;
      int singles = 200;
      int batch = 0;
      List<String> jvm = List.of();
      List<String> serveArgs = List.of();
      for (int i = 0; i < args.length; i += 2) {
        if (i + 1 >= args.length) {
          throw new IllegalArgumentException(args[i] + " needs a value");
        }
        String v = args[i + 1];
        switch (args[i]) {
          case "--controller-jar" -> jar = Path.of(v);
          case "--work-dir" -> work = Path.of(v);
          case "--nodes" -> nodes = positive(args[i], v);
          case "--vms" -> steps = Arrays.stream(v.split(",")).mapToLong(s -> positive("--vms", s.trim())).toArray();
          case "--concurrency" -> concurrency = positive(args[i], v);
          case "--users" -> users = positive(args[i], v);
          case "--mem-mib" -> mem = positive(args[i], v);
          case "--hypervisor-ms" -> hyp = Long.parseLong(v);
          case "--idle-seconds" -> idle = positive(args[i], v);
          case "--mixed-seconds" -> mixed = Integer.parseInt(v);
          case "--probes" -> probes = positive(args[i], v);
          case "--singles" -> singles = positive(args[i], v);
          case "--batch" -> batch = Integer.parseInt(v);
          case "--controller-jvm" -> jvm = v.isBlank() ? List.of() : List.of(v.trim().split("\\s+"));
          case "--controller-args" -> serveArgs = v.isBlank() ? List.of() : List.of(v.trim().split("\\s+"));
          default -> throw new IllegalArgumentException("unknown option " + args[i]);
        }
      }
      if (jar == null || work == null) {
        throw new IllegalArgumentException("--controller-jar and --work-dir are required");
      }
      if (batch < 0 || batch > 1000) {
        throw new IllegalArgumentException("--batch must be 0 (one VM per CreateVm) to 1000; got " + batch);
      }
      return new Options(jar, work, nodes, steps, concurrency, users, mem, hyp, idle, mixed, probes, singles,
          batch, jvm, serveArgs);
    }

    private static int positive(String name, String v) {
      int n = Integer.parseInt(v);
      if (n < 1) {
        throw new IllegalArgumentException(name + " must be positive; got " + v);
      }
      return n;
    }
  }

  public static void main(String[] args) throws Exception {
    Options o = Options.parse(args);
    Path javaHome = Path.of(System.getProperty("java.home"));
    Path data = o.workDir().resolve("controller");
    Files.createDirectories(data);
    ClusterSeed seed = ClusterSeed.create(data, o.users(), o.nodes());
    long maxVms = Arrays.stream(o.steps()).max().orElseThrow();
    // Room for every VM with a quarter to spare, as spread placement fills nodes evenly.
    long nodeMemMib = ((maxVms * 5 / 4) / o.nodes() + 2) * o.memMib();
    List<AutoCloseable> open = new ArrayList<>();
    try (ControllerProcess controller = ControllerProcess.asOperatorsRunIt(javaHome.resolve("bin/java"),
        o.controllerJar(), data, o.controllerJvm(), o.controllerArgs()).start()) {
      HttpsProbe https = new HttpsProbe(controller.ca(), controller.httpsPort);
      await().atMost(Duration.ofMinutes(2)).ignoreExceptions().until(() -> https.get("/healthz") != null);
      long t0 = System.nanoTime();
      HollowFleet fleet = HollowFleet.start(new HollowFleet.Options(o.nodes(), 64, nodeMemMib,
          Duration.ofMillis(o.hypervisorMs()), 2), controller.address(), controller.ca(),
          seed.joinTokens(), o.workDir().resolve("hollow"));
      open.add(fleet);
      NoidClient admin = client(controller, seed.adminToken(), open);
      await().atMost(Duration.ofMinutes(5)).until(() -> admin.nodes()
          .listNodes(ListNodesRequest.getDefaultInstance()).getNodesList().stream()
          .filter(n -> n.getState() == NodeState.NODE_STATE_READY).count() == o.nodes());
      System.err.printf("scale-bench: %d hollow nodes joined and ready in %.1f s%n", o.nodes(),
          (System.nanoTime() - t0) / 1e9);
      List<NoidClient> users = new ArrayList<>();
      for (String token : seed.userTokens()) {
        users.add(client(controller, token, open));
      }
      LoadGenerator load = new LoadGenerator("w", users, o.concurrency(), o.memMib());
      // One create at a time: what the control plane adds to a create with no queue in front.
      LoadGenerator single = new LoadGenerator("s", users.subList(0, 1), 1, o.memMib());
      List<String> rows = new ArrayList<>();
      Probe previous = probe(o, controller, https, fleet, javaHome);
      rows.add(row(o, "0", "-", null, null, previous, previous, null));
      long held = 0;
      for (long step : o.steps()) {
        long loadHeld = load.heldVms();
        long controllerCpu0 = controller.cpuMillis();
        long ownCpu0 = ownCpuNanos();
        long calls0 = fleet.creates().calls();
        long carried0 = fleet.creates().vms();
        LoadGenerator.Phase fill = o.batch() > 0 ? load.fillInBatches(step - held - o.singles(), o.batch())
            : load.fill(step - held - o.singles());
        long placed = load.heldVms() - loadHeld;
        double placedPerSecond = placed / (fill.elapsed().toNanos() / 1e9);
        FillCost cost = new FillCost((controller.cpuMillis() - controllerCpu0) * 1000.0 / placed,
            (ownCpuNanos() - ownCpu0) / 1000.0 / placed,
            (double) (fleet.creates().vms() - carried0) / Math.max(1, fleet.creates().calls() - calls0));
        System.err.printf(Locale.ROOT, "scale-bench: fill CPU per VM: controller %.0f us, benchmark "
            + "(hollow fleet and load) %.0f us; %.2f VMs per agent create batch%n",
            cost.controllerUsPerVm(), cost.benchUsPerVm(), cost.vmsPerAgentCall());
        LoadGenerator.Phase alone = single.fill(o.singles());
        held = load.heldVms() + single.heldVms();
        Probe now = probe(o, controller, https, fleet, javaHome);
        if (fill.failures() > 0) {
          System.err.println("scale-bench: failures in the fill: " + failures(fill));
        }
        rows.add(row(o, Long.toString(held), String.format(Locale.ROOT, "%.0f", placedPerSecond),
            fill.ops().get(o.batch() > 0 ? Mix.Op.CREATE_BATCH : Mix.Op.CREATE),
            alone.ops().get(Mix.Op.CREATE), now, previous, cost));
        previous = now;
        System.err.println("scale-bench: " + rows.getLast());
      }
      printTable(o, rows);
      if (o.mixedSeconds() > 0) {
        LoadGenerator.Phase mixed = load.mixed(Mix.DEFAULT, Long.MAX_VALUE,
            Duration.ofSeconds(o.mixedSeconds()));
        printMixed(o, mixed, held);
      }
    } finally {
      for (AutoCloseable c : open.reversed()) {
        c.close();
      }
    }
  }

  record Probe(OpStats health, OpStats metrics, long heapBytes, double heartbeatCpuMsPerNodeSecond,
      double heartbeatCpuMsPerBeat, ServerTime createServerSide) {}

  /** The controller's own count and total seconds of CreateVm calls, from its /metrics. */
  record ServerTime(double count, double seconds) {
    static final java.util.regex.Pattern LINE = java.util.regex.Pattern.compile(
        "noid_api_request_duration_seconds_(count|sum)\\{[^}]*method=\"noid.v1.VmService/CreateVm\"[^}]*} (\\S+)");

    static ServerTime parse(String metrics) {
      double count = 0;
      double sum = 0;
      java.util.regex.Matcher m = LINE.matcher(metrics);
      while (m.find()) {
        if (m.group(1).equals("count")) {
          count = Double.parseDouble(m.group(2));
        } else {
          sum = Double.parseDouble(m.group(2));
        }
      }
      return new ServerTime(count, sum);
    }

    /** Mean ms per create between {@code earlier} and this. */
    double meanMsSince(ServerTime earlier) {
      double n = count - earlier.count;
      return n <= 0 ? Double.NaN : (seconds - earlier.seconds) * 1000 / n;
    }
  }

  /**
   * With the load stopped: the controller's live heap (after a full GC), its CPU over an idle
   * window in which only heartbeats arrive, then endpoint latency. The endpoints come last so
   * they are timed at the fleet's size in its steady state, not in the wake of the fill (the
   * collections that promote what the fill made).
   */
  private static Probe probe(Options o, ControllerProcess controller, HttpsProbe https,
      HollowFleet fleet, Path javaHome) throws InterruptedException {
    long heap = controller.heapAfterGcBytes(javaHome);
    long beats0 = fleet.heartbeats().ok();
    long cpu0 = controller.cpuMillis();
    long w0 = System.nanoTime();
    // The window is the measurement itself: what the controller burns while only heartbeats
    // arrive. It ends when every node has sent about idleSeconds' worth of heartbeats (at the
    // interval the controller gives a fleet this size), however long that takes on a busy machine.
    long window = (long) o.nodes() * Math.max(1, o.idleSeconds() * 1000L / fleet.heartbeatIntervalMs());
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(o.idleSeconds() * 10L + 60))
        .pollInterval(java.time.Duration.ofMillis(100))
        .until(() -> fleet.heartbeats().ok() - beats0 >= window);
    double seconds = (System.nanoTime() - w0) / 1e9;
    long cpu = controller.cpuMillis() - cpu0;
    long beats = fleet.heartbeats().ok() - beats0;
    OpStats health = https.timeWithCurl("/health", o.probes());
    OpStats metrics = https.timeWithCurl("/metrics", o.probes());
    // The same through this JVM's HTTP client, for comparison with earlier runs.
    OpStats healthJdk = https.time("/health", o.probes());
    OpStats metricsJdk = https.time("/metrics", Math.max(10, o.probes() / 4));
    System.err.printf(Locale.ROOT, "scale-bench: /health p50 / p99 %.2f / %.2f ms (curl), %.2f / %.2f ms "
        + "(JDK client); /metrics %.1f / %.1f ms (curl), %.1f / %.1f ms (JDK client)%n",
        health.percentileMs(50), health.percentileMs(99), healthJdk.percentileMs(50), healthJdk.percentileMs(99),
        metrics.percentileMs(50), metrics.percentileMs(99), metricsJdk.percentileMs(50), metricsJdk.percentileMs(99));
    return new Probe(health, metrics, heap, cpu / seconds / o.nodes(), beats == 0 ? 0 : (double) cpu / beats,
        ServerTime.parse(https.get("/metrics")));
  }

  /**
   * What placing the step's VMs cost: CPU per VM in the controller and in this JVM (the hollow
   * fleet and the load generator), and VMs per create call the nodes answered.
   */
  record FillCost(double controllerUsPerVm, double benchUsPerVm, double vmsPerAgentCall) {}

  private static long ownCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
        .getOperatingSystemMXBean()).getProcessCpuTime();
  }

  private static String row(Options o, String vms, String createsPerSecond, OpStats loaded,
      OpStats alone, Probe p, Probe before, FillCost cost) {
    double serverMs = p.createServerSide().meanMsSince(before.createServerSide());
    return String.format(Locale.ROOT, "| %d | %s | %s | %s | %s | %s | %s | %.2f / %.2f ms | %.1f / %.1f ms | %d MiB | %.3f ms | %.3f ms |",
        o.nodes(), vms, createsPerSecond, cost == null ? "-" : String.format(Locale.ROOT,
            "%.0f / %.0f us, %.2f", cost.controllerUsPerVm(), cost.benchUsPerVm(), cost.vmsPerAgentCall()),
        latency(o, loaded), latency(o, alone),
        Double.isNaN(serverMs) ? "-" : String.format(Locale.ROOT, "%.2f ms", Math.max(0, serverMs - o.hypervisorMs())),
        p.health().percentileMs(50),
        p.health().percentileMs(99), p.metrics().percentileMs(50), p.metrics().percentileMs(99),
        p.heapBytes() >> 20, p.heartbeatCpuMsPerNodeSecond(), p.heartbeatCpuMsPerBeat());
  }

  private static String latency(Options o, OpStats create) {
    return create == null || create.count() == 0 ? "-" : String.format(Locale.ROOT, "%.2f / %.2f ms",
        added(o, create.percentileMs(50)), added(o, create.percentileMs(99)));
  }

  /** Create latency minus the simulated hypervisor's time: what the control plane adds. */
  private static double added(Options o, double ms) {
    return Math.max(0, ms - o.hypervisorMs());
  }

  private static void printTable(Options o, List<String> rows) {
    System.out.printf("%nScale: %d hollow nodes, %d concurrent %s from %d users, %d MiB VMs, "
        + "simulated hypervisor %d ms per operation%n%n", o.nodes(), o.concurrency(),
        o.batch() > 0 ? "CreateVms calls of " + o.batch() + " VMs" : "CreateVm calls", o.users(),
        o.memMib(), o.hypervisorMs());
    System.out.println("| nodes | VMs | VMs placed and running/s (step) "
        + "| CPU per VM: controller / hollow fleet and load; VMs per agent batch | "
        + (o.batch() > 0 ? "CreateVms call" : "create") + " added p50 / p99, loaded "
        + "| one at a time | controller's mean | /health p50 / p99 | /metrics p50 / p99 | heap after GC "
        + "| heartbeat CPU per node per s | CPU per heartbeat |");
    System.out.println("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    rows.forEach(System.out::println);
  }

  private static void printMixed(Options o, LoadGenerator.Phase mixed, long vms) {
    System.out.printf("%nMixed load for %.0f s at about %d VMs on %d nodes (%d workers):%n%n",
        mixed.elapsed().toMillis() / 1000.0, vms, o.nodes(), o.concurrency());
    System.out.println("| operation | n | per second | p50 | p99 | failures |");
    System.out.println("| --- | ---: | ---: | ---: | ---: | ---: |");
    for (Mix.Op op : Mix.DEFAULT.weights().keySet().stream().sorted().toList()) {
      OpStats s = mixed.ops().get(op);
      System.out.printf(Locale.ROOT, "| %s | %d | %.0f | %.2f ms | %.2f ms | %d |%n", s.name(), s.count(),
          mixed.perSecond(op), s.percentileMs(50), s.percentileMs(99), s.failures() + s.wrongOutcomes());
    }
    if (mixed.failures() > 0) {
      System.out.println("\nfailures: " + failures(mixed));
    }
  }

  private static String failures(LoadGenerator.Phase phase) {
    StringBuilder sb = new StringBuilder();
    phase.ops().forEach((op, s) -> {
      if (s.failures() + s.wrongOutcomes() > 0) {
        sb.append(op).append(' ').append(s.failuresByCode()).append(" wrong=").append(s.wrongOutcomes())
            .append(' ').append(s.failureSamples()).append("; ");
      }
    });
    return sb.toString();
  }

  private static NoidClient client(ControllerProcess c, String token, List<AutoCloseable> open) {
    NoidClient client = NoidClient.builder().target(c.address()).trustedCa(c.ca()).token(token)
        .deadline(Duration.ofSeconds(120)).build();
    open.add(client);
    return client;
  }
}
