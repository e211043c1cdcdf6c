package dev.noid.controller.scale.load;

import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.ListVmsRequest;
import dev.noid.api.v1.Vm;
import dev.noid.api.v1.VmState;
import dev.noid.client.ExecResult;
import dev.noid.client.NoidClient;
import dev.noid.client.NoidException;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Drives the public API through the SDK as many users at once: {@code concurrency} workers on
 * virtual threads, worker {@code w} acting as user {@code w % users} and only touching the VMs it
 * created itself, so every outcome is checkable (a create must end RUNNING, an exec must echo
 * its command, a get must find the VM) and nothing fails for a reason the load made up.
 */
public final class LoadGenerator {
  private final List<NoidClient> users;
  private final int memMib;
  private final String prefix;
  private final List<Worker> workers = new ArrayList<>();

  /** VM names are {@code prefix} + worker + "-" + sequence: two generators need two prefixes. */
  public LoadGenerator(String prefix, List<NoidClient> users, int concurrency, int memMib) {
    if (users.isEmpty() || concurrency < 1) {
      throw new IllegalArgumentException("need at least one user and one worker");
    }
    this.users = List.copyOf(users);
    this.memMib = memMib;
    this.prefix = prefix;
    for (int w = 0; w < concurrency; w++) {
      workers.add(new Worker(w));
    }
  }

  /** What one phase did: per-operation latencies and failures, and how long it took. */
  public record Phase(String name, Duration elapsed, Map<Mix.Op, OpStats> ops) {
    public long count(Mix.Op op) {
      OpStats s = ops.get(op);
      return s == null ? 0 : s.count();
    }

    public long failures() {
      return ops.values().stream().mapToLong(s -> s.failures() + s.wrongOutcomes()).sum();
    }

    /** Failure messages of every operation, for a report or an assertion's description. */
    public java.util.List<String> failureSamples() {
      return ops.values().stream().flatMap(s -> s.failureSamples().stream()).toList();
    }

    /** Successful operations of {@code op} per second of the phase. */
    public double perSecond(Mix.Op op) {
      return count(op) / Math.max(1e-9, elapsed.toNanos() / 1e9);
    }

    public long total() {
      return ops.values().stream().mapToLong(OpStats::count).sum();
    }
  }

  /** Creates {@code vms} VMs (attempts, split among the workers) and waits for all of them. */
  public Phase fill(long vms) {
    AtomicLong left = new AtomicLong(vms);
    return run("fill", (w, stats) -> {
      while (left.getAndDecrement() > 0) {
        w.create(stats);
      }
    });
  }

  /**
   * Creates {@code vms} VMs through CreateVms, each worker asking for up to {@code batch} at a
   * time, and waits for all of them; each batch must come back whole and RUNNING.
   */
  public Phase fillInBatches(long vms, int batch) {
    AtomicLong left = new AtomicLong(vms);
    return run("fill", (w, stats) -> {
      long before;
      while ((before = left.getAndAdd(-batch)) > 0) {
        w.createBatch((int) Math.min(batch, before), stats);
      }
    });
  }

  /** Runs the mix until {@code maxOps} operations were started or {@code maxTime} has passed. */
  public Phase mixed(Mix mix, long maxOps, Duration maxTime) {
    AtomicLong left = new AtomicLong(maxOps);
    long deadline = System.nanoTime() + maxTime.toNanos();
    return run("mixed", (w, stats) -> {
      while (left.getAndDecrement() > 0 && System.nanoTime() < deadline) {
        w.perform(mix.pick(w.random), stats);
      }
    });
  }

  /** Every VM the workers hold now (created, not destroyed), by name. */
  public long heldVms() {
    return workers.stream().mapToLong(w -> w.vms.size()).sum();
  }

  private interface Work {
    void run(Worker w, Map<Mix.Op, OpStats> stats);
  }

  private Phase run(String name, Work work) {
    Map<Mix.Op, OpStats> stats = new EnumMap<>(Mix.Op.class);
    for (Mix.Op op : Mix.Op.values()) {
      stats.put(op, new OpStats(op.name().toLowerCase(java.util.Locale.ROOT)));
    }
    long start = System.nanoTime();
    try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
      for (Worker w : workers) {
        pool.submit(() -> work.run(w, stats));
      }
    }
    return new Phase(name, Duration.ofNanos(System.nanoTime() - start), stats);
  }

  private final class Worker {
    private final int index;
    private final NoidClient client;
    private final List<String> vms = new ArrayList<>();
    private final SplittableRandom random;
    private long sequence;

    Worker(int index) {
      this.index = index;
      this.client = users.get(index % users.size());
      this.random = new SplittableRandom(index);
    }

    void perform(Mix.Op op, Map<Mix.Op, OpStats> stats) {
      if (vms.isEmpty() && op != Mix.Op.LIST) {
        op = Mix.Op.CREATE; // nothing of its own to act on yet
      }
      switch (op) {
        case CREATE -> create(stats);
        case DESTROY -> {
          String vm = vms.remove(random.nextInt(vms.size()));
          timed(stats.get(op), () -> {
            client.destroyVm(vm);
            return true;
          });
        }
        case CHECKPOINT -> {
          String vm = pick();
          if (!timed(stats.get(op), () -> client.checkpoint(vm, "load").getVm().equals(vm))) {
            noteState(stats.get(op), vm);
          }
        }
        case LIST -> timed(stats.get(op), () -> client.vms().listVms(
            ListVmsRequest.newBuilder().setPageSize(100).build()).getVmsCount() <= 100);
        case EXEC -> {
          String vm = pick();
          if (!timed(stats.get(op), () -> {
            ExecResult r = client.exec(vm, List.of("echo", vm));
            return r.exitCode() == 0 && r.stdoutText().equals("echo " + vm + "\n");
          })) {
            noteState(stats.get(op), vm);
          }
        }
        case GET -> {
          String vm = pick();
          timed(stats.get(op), () -> client.getVm(vm).getName().equals(vm));
        }
      }
    }

    /** Why an operation on a VM failed, as the VM itself tells: its state, status and node. */
    private void noteState(OpStats stats, String vm) {
      try {
        Vm v = client.getVm(vm);
        stats.note(vm + " is " + v.getState() + " on " + v.getNode() + " (retries " + v.getRetryCount()
            + "): " + v.getStatusMessage());
      } catch (RuntimeException e) {
        stats.note(vm + ": " + e.getMessage());
      }
    }

    private String pick() {
      return vms.get(random.nextInt(vms.size()));
    }

    void create(Map<Mix.Op, OpStats> stats) {
      String name = prefix + index + "-" + sequence++;
      Vm[] last = new Vm[1];
      boolean ok = timed(stats.get(Mix.Op.CREATE), () -> {
        last[0] = client.createVm(CreateVmRequest.newBuilder().setName(name).setCpus(1)
            .setMemMib(memMib).build());
        return last[0].getState() == VmState.VM_STATE_RUNNING;
      }, "create " + name + " did not end RUNNING");
      if (!ok && last[0] != null) {
        stats.get(Mix.Op.CREATE).note(name + " ended " + last[0].getState() + ": " + last[0].getStatusMessage());
      }
      if (ok) {
        vms.add(name);
      }
    }

    void createBatch(int count, Map<Mix.Op, OpStats> stats) {
      String name = prefix + index + "b" + sequence++;
      List<String> names = java.util.stream.IntStream.range(0, count).mapToObj(i -> name + "-" + i).toList();
      List<Vm> created = new ArrayList<>();
      boolean ok = timed(stats.get(Mix.Op.CREATE_BATCH), () -> {
        created.addAll(client.createVms(CreateVmRequest.newBuilder().setName(name).setCpus(1)
            .setMemMib(memMib).build(), count));
        return created.stream().map(Vm::getName).toList().equals(names)
            && created.stream().allMatch(vm -> vm.getState() == VmState.VM_STATE_RUNNING);
      }, "batch " + name + " did not come back whole and RUNNING");
      if (!ok) {
        created.stream().filter(vm -> vm.getState() != VmState.VM_STATE_RUNNING).limit(3).forEach(vm ->
            stats.get(Mix.Op.CREATE_BATCH).note(vm.getName() + " ended " + vm.getState() + ": " + vm.getStatusMessage()));
      }
      created.stream().filter(vm -> vm.getState() == VmState.VM_STATE_RUNNING).forEach(vm -> vms.add(vm.getName()));
    }

    private interface Call {
      boolean run();
    }

    /** Records the call's latency; false (and a failure) when it threw or its outcome was wrong. */
    private boolean timed(OpStats stats, Call call) {
      return timed(stats, call, "");
    }

    private boolean timed(OpStats stats, Call call, String what) {
      long start = System.nanoTime();
      boolean right;
      try {
        right = call.run();
      } catch (NoidException e) {
        stats.failed(e.code(), e.getMessage());
        return false;
      } catch (RuntimeException e) {
        stats.failed(Status.fromThrowable(e).getCode(), String.valueOf(e.getMessage()));
        return false;
      }
      if (!right) {
        stats.wrong(what);
        return false;
      }
      stats.ok(System.nanoTime() - start);
      return true;
    }
  }
}
