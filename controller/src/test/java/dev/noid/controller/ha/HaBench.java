package dev.noid.controller.ha;

import dev.noid.api.v1.CreateVmRequest;
import dev.noid.client.NoidClient;
import dev.noid.client.NoidException;
import dev.noid.controller.testing.ControllerProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The HA benchmark (deploy/bench/ha-bench.sh; docs/benchmarks.md): controllers as real
 * processes on a real PostgreSQL, hollow agents, the SDK given every controller.
 * <ol>
 *   <li>Failover: a client creates VMs one after another; the leader is SIGKILLed N times
 *       (restarted as a follower between kills). Reported: from the kill to the first create
 *       accepted that was sent after it, p50 and max. Reference in the same run: one controller
 *       on the same store SIGKILLed and restarted at once, the only recovery without HA.
 *   <li>Placements/s: VMs created through CreateVms with 3 controllers, against 1 controller on
 *       the same kind of store, same fleet, same load.
 * </ol>
 */
public final class HaBench {
  private HaBench() {}

  public static void main(String[] args) throws Exception {
    Path work = Path.of(args[0]);
    int kills = args.length > 1 ? Integer.parseInt(args[1]) : 10;
    int vms = args.length > 2 ? Integer.parseInt(args[2]) : 4000;
    Files.createDirectories(work);

    List<Long> ha = failovers(work.resolve("failover-3"), 3, kills, false);
    List<Long> single = failovers(work.resolve("failover-1"), 1, kills, true);
    System.out.println();
    System.out.println("| failover, " + kills + " SIGKILLs | p50 ms | max ms |");
    System.out.println("| --- | --- | --- |");
    System.out.printf("| 3 controllers: kill to first accepted create | %d | %d |%n",
        p50(ha), Collections.max(ha));
    System.out.printf("| reference: 1 controller killed and restarted at once | %d | %d |%n",
        p50(single), Collections.max(single));
    System.out.printf("%nratio p50 (HA / restart): %.2f%n", (double) p50(ha) / p50(single));

    double three = placements(work.resolve("place-3"), 3, vms);
    double one = placements(work.resolve("place-1"), 1, vms);
    System.out.println();
    System.out.println("| placements, " + vms + " VMs via CreateVms | VMs/s |");
    System.out.println("| --- | --- |");
    System.out.printf("| 3 controllers (the leader places) | %.0f |%n", three);
    System.out.printf("| reference: 1 controller, same store | %.0f |%n", one);
    System.out.printf("%nratio (3 / 1): %.2f%n", three / one);
  }

  private static long p50(List<Long> xs) {
    List<Long> s = new ArrayList<>(xs);
    Collections.sort(s);
    return s.get(s.size() / 2);
  }

  private static List<Long> failovers(Path dir, int controllers, int kills, boolean restart)
      throws Exception {
    List<Long> times = new ArrayList<>();
    try (HaCluster cluster = HaCluster.start(dir, controllers)) {
      cluster.joinNodes(4);
      cluster.awaitNodesReady(4);
      NoidClient client = cluster.client();
      AtomicLong seq = new AtomicLong();
      for (int round = 0; round < kills; round++) {
        int k = round;
        ControllerProcess leader = cluster.leader();
        if (!create(client, "warm-" + k + "-" + seq.incrementAndGet())) {
          throw new IllegalStateException("the leader does not accept creates before kill " + k);
        }
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong killedAt = new AtomicLong(Long.MAX_VALUE);
        AtomicLong firstAfter = new AtomicLong();
        try (ExecutorService writer = Executors.newSingleThreadExecutor()) {
          Future<?> loop = writer.submit(() -> {
            long giveUp = System.nanoTime() + 120_000_000_000L;
            while (!stop.get()) {
              if (System.nanoTime() > giveUp) {
                throw new IllegalStateException("no create accepted within 120 s of the kill");
              }
              long sent = System.nanoTime();
              if (create(client, "w-" + k + "-" + seq.incrementAndGet()) && sent > killedAt.get()) {
                firstAfter.compareAndSet(0, System.nanoTime());
                return null;
              }
            }
            return null;
          });
          killedAt.set(System.nanoTime());
          leader.kill();
          if (restart) {
            leader.start();
          }
          loop.get();
        }
        times.add((firstAfter.get() - killedAt.get()) / 1_000_000);
        System.out.printf("%d controller(s), kill %d: %d ms%n", controllers, k + 1,
            times.get(times.size() - 1));
        if (!restart) {
          leader.start(); // back as a follower for the next round
        }
      }
    }
    return times;
  }

  private static boolean create(NoidClient client, String name) {
    try {
      client.createVm(CreateVmRequest.newBuilder().setName(name).setCpus(1).setMemMib(128)
          .build());
      return true;
    } catch (NoidException e) {
      if (e.code() == io.grpc.Status.Code.INVALID_ARGUMENT) {
        throw e; // the benchmark's own mistake: never retry it
      }
      return false;
    }
  }

  private static double placements(Path dir, int controllers, int vms) throws Exception {
    try (HaCluster cluster = HaCluster.start(dir, controllers)) {
      cluster.joinNodes(10);
      cluster.awaitNodesReady(10);
      NoidClient client = cluster.client();
      int batch = 250;
      int threads = 8;
      long start = System.nanoTime();
      try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
        List<Future<?>> runs = new ArrayList<>();
        for (int b = 0; b < vms / batch; b++) {
          int id = b;
          runs.add(pool.submit(() -> client.vms().createVms(
              dev.noid.api.v1.CreateVmsRequest.newBuilder().setTemplate(CreateVmRequest
                  .newBuilder().setName("p").setCpus(1).setMemMib(128)).setCount(batch)
                  .setFirstIndex(id * batch).build())));
        }
        for (Future<?> f : runs) {
          f.get();
        }
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      return (vms / batch) * batch / seconds;
    }
  }
}
