package dev.noid.agent.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.noid.agent.it.AgentCreates;
import dev.noid.agent.vm.Files2;
import dev.noid.api.agent.v1.CreateCheckpointRequest;
import dev.noid.api.agent.v1.CreateVmRequest;
import dev.noid.api.agent.v1.DeleteCheckpointRequest;
import dev.noid.api.agent.v1.DestroyVmRequest;
import dev.noid.api.agent.v1.RestoreCheckpointRequest;
import dev.noid.api.agent.v1.VmSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * One agent's create -> checkpoint -> restore in place -> clone figures, under one memory
 * method. Every "to exec-ready" figure ends when a first `true` has exited in the guest. The
 * agent runs with golden snapshots on, so a create restores the golden snapshot; the first
 * create builds it and is kept apart.
 */
final class CheckpointCycle {
  private static final double MIB = 1 << 20;
  private static final ObjectMapper JSON = new ObjectMapper();

  private final String method;
  private final BenchClient agent;
  private final Path stateDir;
  private final int memMib;
  private int baseWrites;
  final Samples first = new Samples("first create (builds the golden snapshot)", "s");
  final Samples create = new Samples("create (from golden) to exec-ready", "s");
  final Samples checkpoint = new Samples("checkpoint (pause, save state, copy disk, resume)", "s");
  final Samples onDisk = new Samples("checkpoint on disk (du of its dir + memory base it wrote)", "MiB");
  final Samples state = new Samples("of which vmstate (QEMU stream, RAM or differing pages)", "MiB");
  final Samples restore = new Samples("restore in place to exec-ready", "s");
  final Samples clone = new Samples("clone (restore as a new VM) to exec-ready", "s");

  CheckpointCycle(String method, BenchClient agent, Path stateDir, int memMib) {
    this.method = method;
    this.agent = agent;
    this.stateDir = stateDir;
    this.memMib = memMib;
  }

  String method() {
    return method;
  }

  /**
   * Checkpoints that wrote a memory base: their VM had none, i.e. it was not restored from the
   * golden snapshot (a golden build that failed, so the create booted cold). Said in the
   * report because such a checkpoint costs the whole RAM on disk and skews the figures.
   */
  int baseWrites() {
    return baseWrites;
  }

  /** In report order. */
  List<Samples> figures() {
    return List.of(create, checkpoint, onDisk, state, restore, clone, first);
  }

  VmSpec spec(String id) {
    return VmSpec.newBuilder().setId(id).setCpus(1).setMemMib(memMib).setImage("dev").build();
  }

  /** The first create of the shape, which builds its golden snapshot. */
  void warmUp() throws Exception {
    String vm = "bench-first";
    long t = System.nanoTime();
    AgentCreates.create(agent.stub(), CreateVmRequest.newBuilder().setSpec(spec(vm)).build());
    agent.exec(vm, "true");
    first.add(seconds(t));
    agent.stub().destroyVm(DestroyVmRequest.newBuilder().setId(vm).build());
  }

  // At most two guests of this agent at a time.
  void run(int i) throws Exception {
    String vm = "bench-" + i;
    String ck = "ck-bench-" + i;
    String copy = vm + "-clone";
    long t = System.nanoTime();
    AgentCreates.create(agent.stub(), CreateVmRequest.newBuilder().setSpec(spec(vm)).build());
    agent.exec(vm, "true");
    create.add(seconds(t));

    t = System.nanoTime();
    agent.stub().createCheckpoint(CreateCheckpointRequest.newBuilder().setVmId(vm)
        .setCheckpointId(ck).build());
    checkpoint.add(seconds(t));
    Path dir = stateDir.resolve("checkpoints").resolve(ck);
    onDisk.add((Files2.allocatedBytes(dir) + baseWritten(dir)) / MIB);
    state.add(Files.size(dir.resolve("vmstate")) / MIB);

    t = System.nanoTime();
    agent.stub().restoreCheckpoint(RestoreCheckpointRequest.newBuilder().setCheckpointId(ck)
        .setTarget(VmSpec.newBuilder().setId(vm)).build());
    agent.exec(vm, "true");
    restore.add(seconds(t));

    t = System.nanoTime();
    agent.stub().restoreCheckpoint(RestoreCheckpointRequest.newBuilder().setCheckpointId(ck)
        .setTarget(VmSpec.newBuilder().setId(copy)).build());
    agent.exec(copy, "true");
    clone.add(seconds(t));

    agent.stub().destroyVm(DestroyVmRequest.newBuilder().setId(copy).build());
    agent.stub().destroyVm(DestroyVmRequest.newBuilder().setId(vm).build());
    agent.stub().deleteCheckpoint(DeleteCheckpointRequest.newBuilder().setCheckpointId(ck).build());
  }

  // A checkpoint of a VM restored over a base holds only the pages that differ from it; one
  // of a VM without a base writes a new base (memory.json says base_written), which the
  // checkpoint then costs on disk too. The old method has no memory.json.
  private long baseWritten(Path checkpointDir) throws Exception {
    Path json = checkpointDir.resolve("memory.json");
    if (!Files.exists(json)) {
      return 0;
    }
    JsonNode m = JSON.readTree(json.toFile());
    if (!m.path("base_written").asBoolean()) {
      return 0;
    }
    baseWrites++;
    return Files2.allocatedBytes(stateDir.resolve("memory").resolve(m.path("base_sha256").asText()));
  }

  private static double seconds(long startNanos) {
    return (System.nanoTime() - startNanos) / 1e9;
  }
}
