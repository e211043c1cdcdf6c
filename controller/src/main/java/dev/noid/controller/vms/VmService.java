package dev.noid.controller.vms;

import dev.noid.agent.v1.AgentVmState;
import dev.noid.agent.v1.CheckpointInfo;
import dev.noid.agent.v1.CreateCheckpointRequest;
import dev.noid.agent.v1.DeleteCheckpointRequest;
import dev.noid.agent.v1.DestroyVmRequest;
import dev.noid.agent.v1.GetVmRequest;
import dev.noid.agent.v1.PauseVmRequest;
import dev.noid.agent.v1.RestoreCheckpointRequest;
import dev.noid.agent.v1.ResumeVmRequest;
import dev.noid.agent.v1.StartVmRequest;
import dev.noid.agent.v1.StopVmRequest;
import dev.noid.agent.v1.VmNetwork;
import dev.noid.agent.v1.VmReport;
import dev.noid.agent.v1.VmSpec;
import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.VmState;
import dev.noid.common.naming.ResourceNames;
import dev.noid.controller.agents.AgentClients;
import dev.noid.controller.agents.BatchedCreates;
import dev.noid.controller.agents.CheckpointRelay;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.NoidException.Code;
import dev.noid.controller.nodes.NodeEntry;
import dev.noid.controller.nodes.NodeRegistry;
import dev.noid.controller.scheduler.Placement;
import dev.noid.controller.scheduler.Scheduler;
import dev.noid.controller.users.Principal;
import io.grpc.StatusRuntimeException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The VM lifecycle as users see it. Every change is stored before an agent is called, so a
 * crash leaves a record of what was being done; {@link #reconcile()} later drives whatever
 * was left in a transitional state to a final one, recording retries and reasons.
 */
public final class VmService {
  private static final Logger log = LoggerFactory.getLogger(VmService.class);
  private static final SecureRandom RANDOM = new SecureRandom();
  public static final int DEFAULT_CPUS = 1;
  public static final int DEFAULT_MEM_MIB = 256;
  public static final int MIN_MEM_MIB = 96;
  public static final String DEFAULT_IMAGE = "dev";

  private final VmTable vms;
  private final CheckpointTable checkpoints;
  private final NodeRegistry nodes;
  private final Scheduler scheduler;
  private final AgentClients agents;
  private final Clock clock;
  private final Duration bootTimeout;
  private final OperationObserver observer;
  private final CheckpointRelay relay;
  private final BatchedCreates creates;
  private final Map<String, ReentrantLock> locks = new ConcurrentHashMap<>();
  private final java.util.Set<String> strayDestroys = ConcurrentHashMap.newKeySet();
  private final java.util.Set<String> unknownReported = ConcurrentHashMap.newKeySet();

  public VmService(VmTable vms, CheckpointTable checkpoints, NodeRegistry nodes, Scheduler scheduler,
      AgentClients agents, Clock clock, Duration bootTimeout, OperationObserver observer) {
    this.vms = vms;
    this.checkpoints = checkpoints;
    this.nodes = nodes;
    this.scheduler = scheduler;
    this.agents = agents;
    this.clock = clock;
    this.bootTimeout = bootTimeout;
    this.observer = observer;
    this.relay = new CheckpointRelay(agents);
    this.creates = new BatchedCreates(agents);
    for (VmEntry e : vms.all()) {
      if (e.holdsCapacity()) {
        scheduler.reserveOn(e.node(), e.cpus(), e.memMib());
      }
    }
    nodes.onReadinessChange(n -> {
      if (!n.ready()) {
        nodeLost(n.name());
      }
    });
  }

  // How much longer than the boot timeout a call to an agent may take (transfer, QMP, ...).
  private long agentDeadlineSeconds() {
    return bootTimeout.toSeconds() + Math.min(30, Math.max(1, bootTimeout.toSeconds()));
  }

  public VmTable table() {
    return vms;
  }

  public CheckpointTable checkpointTable() {
    return checkpoints;
  }

  // ------------------------------------------------------------------ create

  public VmEntry create(Principal who, CreateVmRequest r) {
    VmEntry desired = validate(who, r);
    refuseTakenNames(List.of(desired));
    // Placed before it is stored: a request with no room leaves no trace at all.
    String node = scheduler.place(new Placement(desired.cpus(), desired.memMib(), desired.image(),
        desired.nodeHint(), desired.nodeSelector()), nodes.view());
    boolean wait = !r.hasWait() || r.getWait();
    return launch(List.of(desired.withNode(node)), desired.name(), () ->
        log.atInfo().addKeyValue("vm_name", desired.name()).addKeyValue("user", who.name())
            .log("VM {} accepted and placed on {}", desired.name(), node), wait).getFirst();
  }

  /** The most VMs one {@link #createMany} call may create. */
  public static final int MAX_BATCH = 1000;

  /**
   * Creates {@code count} VMs alike, named {@code <template name>-<index>}: all placed in one
   * scheduler step and stored in one commit before any is started, so either there is room for
   * every one or nothing is created. Each then comes up on its node on its own, as a single
   * create does (its own retries elsewhere, its own FAILED reason).
   */
  public List<VmEntry> createMany(Principal who, CreateVmRequest template, long requested,
      long firstIndex) {
    if (requested < 1 || requested > MAX_BATCH) {
      throw NoidException.invalid("count must be 1 to " + MAX_BATCH + "; got " + requested);
    }
    int count = (int) requested;
    if (firstIndex < 0) {
      throw NoidException.invalid("first_index must not be negative; got " + firstIndex);
    }
    String prefixProblem = ResourceNames.problem("template.name", template.getName());
    if (prefixProblem != null) {
      throw NoidException.invalid(prefixProblem);
    }
    String longest = template.getName() + "-" + (firstIndex + count - 1);
    String nameProblem = ResourceNames.problem("template.name plus '-<index>'", longest);
    if (nameProblem != null) {
      throw NoidException.invalid(nameProblem);
    }
    VmEntry shape = validate(who, template);
    List<VmEntry> desired = new java.util.ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      desired.add(shape.renamed(newId(), template.getName() + "-" + (firstIndex + i)));
    }
    refuseTakenNames(desired);
    List<String> placed = scheduler.placeAll(new Placement(shape.cpus(), shape.memMib(), shape.image(),
        shape.nodeHint(), shape.nodeSelector()), count, nodes.view());
    List<VmEntry> onNodes = new java.util.ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      onNodes.add(desired.get(i).withNode(placed.get(i)));
    }
    return launch(onNodes, template.getName() + "-*", () -> log.atInfo().addKeyValue("user", who.name())
        .log("{} VMs {}-{}..{} accepted and placed", count, template.getName(), firstIndex,
            firstIndex + count - 1), !template.hasWait() || template.getWait());
  }

  /** A taken name is the answer before a lack of room; the insert still decides races. */
  private void refuseTakenNames(List<VmEntry> wanted) {
    for (VmEntry e : wanted) {
      if (vms.find(e.owner(), e.name()).isPresent()) {
        throw VmTable.alreadyExists(e);
      }
    }
  }

  /**
   * Stores placed VMs as CREATING and brings them up on their nodes. The thread that drives
   * them takes their locks before they are stored, so nothing else (the reconciler, a
   * heartbeat, a destroy) acts on them until their create is done, and the step from placed to
   * creating needs no commit of its own. If they cannot be stored (a taken name), their
   * placements are released and nothing is left. Returns the VMs as stored when {@code wait}
   * is false, as they ended otherwise.
   */
  private List<VmEntry> launch(List<VmEntry> placed, String what, Runnable accepted, boolean wait) {
    List<VmEntry> creating = placed.stream()
        .map(e -> e.with(VmState.VM_STATE_CREATING, "booting on " + e.node())).toList();
    java.util.concurrent.CompletableFuture<List<VmEntry>> stored = new java.util.concurrent.CompletableFuture<>();
    Thread driver = Thread.ofVirtual().name("create-" + what).start(() -> {
      List<ReentrantLock> held = new java.util.ArrayList<>(creating.size());
      List<Thread> alone;
      try {
        for (VmEntry e : creating) {
          ReentrantLock lock = locks.computeIfAbsent(e.id(), k -> new ReentrantLock());
          lock.lock();
          held.add(lock);
        }
        List<VmEntry> in;
        try {
          in = vms.insertAll(creating);
        } catch (RuntimeException | Error ex) {
          stored.completeExceptionally(ex);
          return;
        }
        stored.complete(in);
        alone = bringUpAll(in);
      } finally {
        held.forEach(ReentrantLock::unlock);
      }
      for (Thread t : alone) {
        try {
          t.join();
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    });
    List<VmEntry> in;
    try {
      in = stored.join();
    } catch (java.util.concurrent.CompletionException ce) {
      placed.forEach(e -> scheduler.release(e.node(), e.cpus(), e.memMib()));
      throw ce.getCause() instanceof RuntimeException re ? re : ce;
    }
    accepted.run();
    if (!wait) {
      return in;
    }
    try {
      driver.join();
    } catch (InterruptedException ie) {
      // The call was cancelled; the VMs come up all the same, as after wait=false.
      Thread.currentThread().interrupt();
    }
    return in.stream().map(e -> vms.byId(e.id()).orElse(e)).toList();
  }

  private VmEntry validate(Principal who, CreateVmRequest r) {
    String problem = ResourceNames.problem("name", r.getName());
    if (problem != null) {
      throw NoidException.invalid(problem);
    }
    int cpus = r.getCpus();
    int mem = r.getMemMib();
    if (cpus < 1) {
      throw NoidException.invalid("cpus must be at least 1; got " + cpus);
    }
    if (mem < MIN_MEM_MIB) {
      throw NoidException.invalid("mem_mib " + mem + " is below the image minimum of "
          + MIN_MEM_MIB + " MiB");
    }
    long largestMem = nodes.view().stream().mapToLong(NodeEntry::memoryMib).max().orElse(0);
    int largestCpus = nodes.view().stream().mapToInt(NodeEntry::cpus).max().orElse(0);
    if (largestMem > 0 && mem > largestMem) {
      throw NoidException.invalid("mem_mib " + mem + " is larger than any node (largest: "
          + largestMem + " MiB)");
    }
    if (largestCpus > 0 && cpus > largestCpus) {
      throw NoidException.invalid("cpus " + cpus + " is more than any node has (largest: "
          + largestCpus + ")");
    }
    if (r.getLabelsCount() > 64) {
      throw NoidException.invalid("labels: at most 64 are allowed; got " + r.getLabelsCount());
    }
    Instant now = clock.instant();
    return new VmEntry(newId(), who.name(), r.getName(), cpus, mem, r.getDiskMib(),
        r.getImage().isEmpty() ? DEFAULT_IMAGE : r.getImage(), r.getLabelsMap(), r.getNode(),
        r.getNodeSelectorMap(), r.getNodeLossPolicy().name(), VmState.VM_STATE_PENDING,
        VmState.VM_STATE_RUNNING, "", "accepted", 0, "", 0, now, now, "", "");
  }

  static String newId() {
    byte[] b = new byte[6];
    RANDOM.nextBytes(b);
    return "vm-" + HexFormat.of().formatHex(b);
  }

  static final int MAX_PLACEMENT_ATTEMPTS = 3;

  /**
   * Brings a SCHEDULED VM up on its node: CREATING, then RUNNING or FAILED with the reason. A
   * node that cannot be reached at all (its lease not yet expired) costs a retry on another
   * node, recorded in the VM's retry count and status, up to {@link #MAX_PLACEMENT_ATTEMPTS}.
   */
  void drive(String id) {
    withLock(id, () -> {
      VmEntry e = vms.byId(id).orElse(null);
      if (e == null || e.state() != VmState.VM_STATE_SCHEDULED) {
        return null;
      }
      Instant start = clock.instant();
      bringUp(vms.update(e.with(VmState.VM_STATE_CREATING, "booting on " + e.node())),
          new java.util.LinkedHashSet<>(), start, null);
      return null;
    });
  }

  /**
   * Brings stored CREATING VMs up together, their locks held by the caller: one CreateVms call
   * per node (several when a node has more than one call takes), one commit for all that came
   * up. A VM its node refused goes on alone from there, through the same retries as a single
   * create, on a thread returned here: it takes the VM's lock once the caller lets go of it.
   */
  private List<Thread> bringUpAll(List<VmEntry> creating) {
    Instant start = clock.instant();
    Map<String, List<VmEntry>> byNode = new java.util.LinkedHashMap<>();
    creating.forEach(e -> byNode.computeIfAbsent(e.node(), n -> new java.util.ArrayList<>()).add(e));
    Map<String, BatchedCreates.Answer> answers = new ConcurrentHashMap<>();
    if (byNode.size() == 1) {
      byNode.forEach((node, onNode) -> askAll(node, onNode, answers));
    } else {
      try (var perNode = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
        byNode.forEach((node, onNode) -> perNode.submit(() -> askAll(node, onNode, answers)));
      }
    }
    List<VmEntry> up = new java.util.ArrayList<>();
    List<Thread> alone = new java.util.ArrayList<>();
    for (VmEntry e : creating) {
      BatchedCreates.Answer a = answers.get(e.id());
      if (a.report() != null) {
        up.add(withNetwork(e, a.report()).with(fromAgent(a.report().getState()), "running on " + e.node()));
      } else {
        alone.add(Thread.ofVirtual().name("create-" + e.name()).start(() -> withLock(e.id(), () -> {
          VmEntry cur = vms.byId(e.id()).orElse(null);
          if (cur != null && cur.revision() == e.revision()) {
            bringUp(cur, new java.util.LinkedHashSet<>(), start, a);
          }
          return null;
        })));
      }
    }
    vms.updateAll(up);
    Duration took = Duration.between(start, clock.instant());
    for (VmEntry e : up) {
      created(e, took);
    }
    return alone;
  }

  private void askAll(String node, List<VmEntry> onNode, Map<String, BatchedCreates.Answer> answers) {
    List<BatchedCreates.Answer> got;
    try {
      got = creates.createAll(node, onNode.stream().map(this::agentRequest).toList(), agentDeadlineSeconds());
    } catch (RuntimeException ex) {
      got = java.util.Collections.nCopies(onNode.size(), new BatchedCreates.Answer(null,
          io.grpc.Status.INTERNAL.withDescription(String.valueOf(ex.getMessage())).asRuntimeException()));
    }
    for (int i = 0; i < onNode.size(); i++) {
      answers.put(onNode.get(i).id(), got.get(i));
    }
  }

  private dev.noid.agent.v1.CreateVmRequest agentRequest(VmEntry creating) {
    return dev.noid.agent.v1.CreateVmRequest.newBuilder().setSpec(spec(creating))
        .setBootTimeoutSeconds((int) bootTimeout.toSeconds()).build();
  }

  private void created(VmEntry e, Duration took) {
    observer.vmCreated(took);
    log.atInfo().addKeyValue("vm_name", e.name()).addKeyValue("user", e.owner())
        .addKeyValue("node", e.node()).addKeyValue("duration_ms", took.toMillis())
        .log("VM created successfully");
  }

  /**
   * Creates a CREATING VM on its node, placing it elsewhere while nodes cannot take it, until it
   * is RUNNING or FAILED. {@code answer}, when not null, is its node's answer already in hand.
   */
  private void bringUp(VmEntry creating, java.util.Set<String> tried, Instant start,
      BatchedCreates.Answer answer) {
    while (true) {
      tried.add(creating.node());
      BatchedCreates.Answer a = answer != null ? answer : ask(creating);
      answer = null;
      if (a.report() != null) {
        vms.update(withNetwork(creating, a.report())
            .with(fromAgent(a.report().getState()), "running on " + creating.node()));
        created(creating, Duration.between(start, clock.instant()));
        return;
      }
      StatusRuntimeException ex = a.failure();
      NoidException ne = AgentClients.translate(creating.node(), ex);
      String why = retryElsewhere(ex.getStatus().getCode(), creating.node());
      if (why == null || tried.size() >= MAX_PLACEMENT_ATTEMPTS) {
        fail(creating, "create", ne.getMessage());
        return;
      }
      scheduler.release(creating.node(), creating.cpus(), creating.memMib());
      String next;
      try {
        next = scheduler.place(new Placement(creating.cpus(), creating.memMib(), creating.image(),
            creating.nodeHint(), creating.nodeSelector()),
            nodes.view().stream().filter(n -> !tried.contains(n.name())).toList());
      } catch (NoidException none) {
        scheduler.reserveOn(creating.node(), creating.cpus(), creating.memMib()); // fail() releases it again
        fail(creating, "create", ne.getMessage() + "; no other node: " + none.getMessage());
        return;
      }
      log.atWarn().addKeyValue("vm_name", creating.name()).log("create of {} on {} failed ({}); retrying on {}",
          creating.name(), creating.node(), ne.getMessage(), next);
      int retry = creating.retryCount() + 1;
      creating = vms.update(creating.withRetry(retry, "retry " + retry + ": " + ne.getMessage())
          .withNode(next).with(VmState.VM_STATE_CREATING,
              "retry " + retry + ": " + why + "; booting on " + next));
    }
  }

  private BatchedCreates.Answer ask(VmEntry creating) {
    try {
      return new BatchedCreates.Answer(creates.create(creating.node(), agentRequest(creating),
          agentDeadlineSeconds()), null);
    } catch (StatusRuntimeException ex) {
      return new BatchedCreates.Answer(null, ex);
    } catch (RuntimeException ex) {
      return new BatchedCreates.Answer(null, io.grpc.Status.INTERNAL.withDescription(String.valueOf(
          ex.getMessage())).withCause(ex).asRuntimeException());
    }
  }

  /**
   * Why a create refused by its node may go to another one, or null when it may not. An
   * unreachable node, or one without room the controller could not see (memory the agent holds
   * for itself, such as a golden-snapshot build's throwaway VM), made nothing of the VM.
   */
  private static String retryElsewhere(io.grpc.Status.Code code, String node) {
    return switch (code) {
      case UNAVAILABLE -> node + " unreachable";
      case RESOURCE_EXHAUSTED -> node + " has no room";
      default -> null;
    };
  }

  private void fail(VmEntry e, String operation, String reason) {
    observer.operationFailed(operation);
    scheduler.release(e.node(), e.cpus(), e.memMib());
    vms.update(e.with(VmState.VM_STATE_FAILED, operation + " failed: " + reason));
    log.atWarn().addKeyValue("vm_name", e.name()).addKeyValue("user", e.owner())
        .log("VM {} {} failed: {}", e.name(), operation, reason);
  }

  static VmSpec spec(VmEntry e) {
    return VmSpec.newBuilder().setId(e.id()).setHostname(e.name()).setCpus(e.cpus())
        .setMemMib(e.memMib()).setDiskMib(e.diskMib()).setImage(e.image())
        .putAllLabels(e.labels()).build();
  }

  static VmState fromAgent(AgentVmState s) {
    return switch (s) {
      case AGENT_VM_STATE_CREATING -> VmState.VM_STATE_CREATING;
      case AGENT_VM_STATE_RUNNING -> VmState.VM_STATE_RUNNING;
      case AGENT_VM_STATE_PAUSED -> VmState.VM_STATE_PAUSED;
      case AGENT_VM_STATE_STOPPED -> VmState.VM_STATE_STOPPED;
      case AGENT_VM_STATE_DEAD -> VmState.VM_STATE_FAILED;
      default -> VmState.VM_STATE_UNKNOWN;
    };
  }

  // ------------------------------------------------------------------ queries

  public VmEntry get(Principal who, String name) {
    // Another user's VM is simply not there for this caller: NOT_FOUND, never PERMISSION_DENIED.
    return vms.find(who.name(), name)
        .orElseThrow(() -> NoidException.notFound("VM '" + name + "' not found"));
  }

  public List<VmEntry> list(Principal who) {
    return vms.ownedBy(who.name());
  }

  // ------------------------------------------------------------------ simple transitions

  public VmEntry stop(Principal who, String name) {
    VmEntry e = get(who, name);
    return transition(e, "stop", VmState.VM_STATE_STOPPED, VmState.VM_STATE_STOPPING,
        List.of(VmState.VM_STATE_RUNNING, VmState.VM_STATE_PAUSED),
        () -> agents.blocking(e.node(), 60).stopVm(StopVmRequest.newBuilder().setId(e.id()).build()).getVm());
  }

  public VmEntry start(Principal who, String name) {
    VmEntry e = get(who, name);
    return transition(e, "start", VmState.VM_STATE_RUNNING, VmState.VM_STATE_CREATING,
        List.of(VmState.VM_STATE_STOPPED),
        () -> agents.blocking(e.node(), agentDeadlineSeconds()).startVm(
            StartVmRequest.newBuilder().setId(e.id()).setBootTimeoutSeconds((int) bootTimeout.toSeconds())
                .build()).getVm());
  }

  public VmEntry pause(Principal who, String name) {
    VmEntry e = get(who, name);
    return transition(e, "pause", VmState.VM_STATE_PAUSED, null, List.of(VmState.VM_STATE_RUNNING),
        () -> agents.blocking(e.node(), 30).pauseVm(PauseVmRequest.newBuilder().setId(e.id()).build()).getVm());
  }

  public VmEntry resume(Principal who, String name) {
    VmEntry e = get(who, name);
    return transition(e, "resume", VmState.VM_STATE_RUNNING, null, List.of(VmState.VM_STATE_PAUSED),
        () -> agents.blocking(e.node(), 30).resumeVm(ResumeVmRequest.newBuilder().setId(e.id()).build()).getVm());
  }

  private VmEntry transition(VmEntry e, String action, VmState desired, VmState during,
      List<VmState> from, Supplier<VmReport> call) {
    return withLock(e.id(), () -> {
      VmEntry cur = vms.byId(e.id()).orElseThrow(() -> NoidException.notFound("VM '" + e.name() + "' not found"));
      if (!from.contains(cur.state())) {
        throw new NoidException(Code.WRONG_STATE, "cannot " + action + " VM '" + cur.name()
            + "': it is " + stateName(cur.state()) + ", needs " + String.join(" or ",
            from.stream().map(VmService::stateName).toList()));
      }
      VmEntry stored = vms.update(cur.withDesired(desired == VmState.VM_STATE_PAUSED
          ? VmState.VM_STATE_PAUSED : desired));
      if (during != null) {
        stored = vms.update(stored.with(during, action + " in progress"));
      }
      try {
        VmReport report = call.get();
        return vms.update(stored.with(fromAgent(report.getState()), action + " done"));
      } catch (StatusRuntimeException ex) {
        NoidException ne = AgentClients.translate(cur.node(), ex);
        observer.operationFailed(action);
        vms.update(stored.with(cur.state(), action + " failed: " + ne.getMessage()));
        throw ne;
      }
    });
  }

  public static String stateName(VmState s) {
    return s.name().substring("VM_STATE_".length());
  }

  // ------------------------------------------------------------------ destroy

  public void destroy(Principal who, String name) {
    VmEntry e = get(who, name);
    destroyEntry(e);
  }

  /** Stores DESTROYING, asks the node to remove it, then forgets it. */
  void destroyEntry(VmEntry e) {
    withLock(e.id(), () -> {
      VmEntry cur = vms.byId(e.id()).orElse(null);
      if (cur == null) {
        return null;
      }
      VmEntry destroying = vms.update(cur.withDesired(VmState.VM_STATE_DESTROYING)
          .with(VmState.VM_STATE_DESTROYING, "destroy in progress"));
      if (!cur.node().isEmpty()) {
        try {
          agents.blocking(cur.node(), 60).destroyVm(DestroyVmRequest.newBuilder().setId(cur.id()).build());
        } catch (StatusRuntimeException ex) {
          if (ex.getStatus().getCode() != io.grpc.Status.Code.NOT_FOUND) {
            NoidException ne = AgentClients.translate(cur.node(), ex);
            observer.operationFailed("destroy");
            vms.update(destroying.withRetry(destroying.retryCount() + 1,
                "destroy failed, will retry: " + ne.getMessage()));
            throw ne;
          }
        }
        if (cur.holdsCapacity()) {
          scheduler.release(cur.node(), cur.cpus(), cur.memMib());
        }
      }
      vms.delete(destroying);
      log.atInfo().addKeyValue("vm_name", cur.name()).addKeyValue("user", cur.owner())
          .log("VM {} destroyed", cur.name());
      return null;
    });
  }

  // ------------------------------------------------------------------ checkpoints

  public CheckpointEntry checkpoint(Principal who, String vmName, String label) {
    VmEntry e = get(who, vmName);
    if (label.length() > 128) {
      throw NoidException.invalid("label is " + label.length() + " characters; at most 128 are allowed");
    }
    return withLock(e.id(), () -> {
      VmEntry cur = vms.byId(e.id()).orElseThrow();
      if (cur.state() != VmState.VM_STATE_RUNNING && cur.state() != VmState.VM_STATE_PAUSED) {
        throw new NoidException(Code.WRONG_STATE, "cannot checkpoint VM '" + cur.name() + "': it is "
            + stateName(cur.state()) + ", needs RUNNING or PAUSED");
      }
      String id = "ck-" + HexFormat.of().formatHex(randomBytes(8));
      Instant start = clock.instant();
      try {
        CheckpointInfo info = agents.blocking(cur.node(), 600).createCheckpoint(
            CreateCheckpointRequest.newBuilder().setVmId(cur.id()).setCheckpointId(id)
                .setLabel(label).build()).getCheckpoint();
        CheckpointEntry ck = new CheckpointEntry(id, cur.owner(), cur.id(), cur.name(), label,
            cur.node(), "READY", info.getSizeBytes(), info.getDurationMs(), cur.cpus(), cur.memMib(),
            cur.image(), "", clock.instant(), List.of());
        checkpoints.put(ck);
        observer.checkpointCreated(Duration.between(start, clock.instant()));
        return ck;
      } catch (StatusRuntimeException ex) {
        observer.operationFailed("checkpoint");
        throw AgentClients.translate(cur.node(), ex);
      }
    });
  }

  public List<CheckpointEntry> checkpoints(Principal who, String vmName) {
    if (vmName.isEmpty()) {
      return checkpoints.ownedBy(who.name());
    }
    get(who, vmName);
    return checkpoints.ownedBy(who.name()).stream().filter(c -> c.vmName().equals(vmName)).toList();
  }

  public void deleteCheckpoint(Principal who, String id) {
    CheckpointEntry ck = checkpoints.get(id).filter(c -> c.owner().equals(who.name()))
        .orElseThrow(() -> NoidException.notFound("checkpoint '" + id + "' not found"));
    for (String n : ck.nodes()) {
      try {
        agents.blocking(n, 60).deleteCheckpoint(
            DeleteCheckpointRequest.newBuilder().setCheckpointId(id).build());
      } catch (StatusRuntimeException ex) {
        if (ex.getStatus().getCode() != io.grpc.Status.Code.NOT_FOUND) {
          throw AgentClients.translate(n, ex);
        }
      }
    }
    checkpoints.delete(id);
  }

  /** Finds a checkpoint of the caller by id, or by label among {@code vmName}'s checkpoints. */
  public CheckpointEntry findCheckpoint(Principal who, String vmName, String ref) {
    if (ref.isEmpty()) {
      throw NoidException.invalid("checkpoint is required (an id, or a label of the VM's checkpoints)");
    }
    return checkpoints.get(ref).filter(c -> c.owner().equals(who.name()))
        .or(() -> checkpoints.ownedBy(who.name()).stream()
            .filter(c -> c.label().equals(ref) && (vmName.isEmpty() || c.vmName().equals(vmName)))
            .reduce((a, b) -> b))
        .orElseThrow(() -> NoidException.notFound("checkpoint '" + ref + "' not found"));
  }

  /**
   * Restores in place (no {@code asName}) or as a new VM (a clone), on {@code node} or, for a
   * clone without one, where the scheduler places it. The checkpoint's files are copied to the
   * target node first when it does not hold them (verified by sha256 on arrival).
   */
  public VmEntry restore(Principal who, String vmName, String ref, String asName, String node) {
    CheckpointEntry ck = findCheckpoint(who, vmName, ref);
    if (!node.isEmpty()) {
      nodes.require(node);
    }
    return asName.isEmpty() ? restoreInPlace(who, ck, node, false) : cloneFrom(who, ck, asName, node);
  }

  /** Makes sure {@code target} holds the checkpoint's files. */
  private CheckpointEntry ensureOn(CheckpointEntry ck, String target) {
    if (ck.nodes().contains(target)) {
      return ck;
    }
    relay.copy(ck.id(), ck.node(), target);
    CheckpointEntry updated = ck.withCopyOn(target);
    checkpoints.put(updated);
    return updated;
  }

  private VmEntry restoreInPlace(Principal who, CheckpointEntry ck, String node, boolean reserved) {
    VmEntry e = vms.byId(ck.vmId()).filter(v -> v.owner().equals(who.name()))
        .orElseThrow(() -> NoidException.notFound("VM '" + ck.vmName()
            + "' no longer exists: restore the checkpoint as a new VM (--as NAME)"));
    return withLock(e.id(), () -> {
      VmEntry cur = vms.byId(e.id()).orElseThrow();
      String target = node.isEmpty() ? cur.node() : node;
      boolean moving = !target.equals(cur.node());
      if (moving && !reserved) {
        scheduler.placeOn(new Placement(cur.cpus(), cur.memMib(), cur.image(), target, Map.of()),
            nodes.require(target));
      }
      VmEntry restoring = vms.update(cur.withDesired(VmState.VM_STATE_RUNNING)
          .with(VmState.VM_STATE_CREATING, "restoring checkpoint " + ck.id()
              + (moving ? " on " + target : "")));
      try {
        ensureOn(ck, target);
        if (moving) {
          destroyOnNode(cur);
          scheduler.release(cur.node(), cur.cpus(), cur.memMib());
          restoring = vms.update(restoring.withNode(target));
        }
        VmReport r = agents.blocking(target, agentDeadlineSeconds()).restoreCheckpoint(
            RestoreCheckpointRequest.newBuilder().setCheckpointId(ck.id()).setTarget(spec(restoring))
                .setBootTimeoutSeconds((int) bootTimeout.toSeconds()).build()).getVm();
        return vms.update(withNetwork(restoring.withRestoredFrom(ck.id()), r)
            .with(fromAgent(r.getState()), "restored from " + ck.id()));
      } catch (StatusRuntimeException ex) {
        NoidException ne = AgentClients.translate(target, ex);
        fail(restoring, "restore", ne.getMessage());
        throw ne;
      } catch (NoidException ne) {
        if (moving && restoring.node().equals(cur.node())) {
          // Nothing was moved yet: the VM is where it was, as it was.
          scheduler.release(target, cur.cpus(), cur.memMib());
          vms.update(restoring.with(cur.state(), "restore failed: " + ne.getMessage()));
        } else {
          fail(restoring, "restore", ne.getMessage());
        }
        throw ne;
      }
    });
  }

  /** One VM's progress in a drain. */
  public record DrainStep(String vm, String owner, String phase, String target, String message) {}

  /**
   * Cordons {@code node} and moves every VM off it: checkpoint, copy to a node the scheduler
   * picks, restore there, destroy here. Each VM keeps its name, owner and checkpoints. Returns
   * the steps of every VM (also given to {@code progress} as they happen).
   */
  public List<DrainStep> drain(String node, java.util.function.Consumer<DrainStep> progress) {
    nodes.setCordoned(node, true);
    List<DrainStep> results = new java.util.ArrayList<>();
    for (VmEntry e : vms.all().stream().filter(v -> v.node().equals(node)).toList()) {
      DrainStep last = moveOff(e, progress);
      results.add(last);
    }
    return results;
  }

  private DrainStep moveOff(VmEntry e, java.util.function.Consumer<DrainStep> progress) {
    Principal owner = new Principal(e.owner(), false);
    if (e.state() != VmState.VM_STATE_RUNNING && e.state() != VmState.VM_STATE_PAUSED) {
      DrainStep failed = new DrainStep(e.name(), e.owner(), "FAILED", "",
          "only running or paused VMs can be moved; it is " + stateName(e.state()));
      progress.accept(failed);
      return failed;
    }
    String target = "";
    try {
      // Place first: a VM with nowhere to go is not checkpointed for nothing.
      target = scheduler.place(new Placement(e.cpus(), e.memMib(), e.image(), "", e.nodeSelector()),
          nodes.view());
      progress.accept(new DrainStep(e.name(), e.owner(), "CHECKPOINTING", target, ""));
      CheckpointEntry ck = checkpoint(owner, e.name(), "drain of " + e.node());
      progress.accept(new DrainStep(e.name(), e.owner(), "TRANSFERRING", target, ""));
      ensureOn(ck, target);
      progress.accept(new DrainStep(e.name(), e.owner(), "RESTORING", target, ""));
      restoreInPlace(owner, checkpoints.get(ck.id()).orElse(ck), target, true);
      DrainStep moved = new DrainStep(e.name(), e.owner(), "MOVED", target, "");
      progress.accept(moved);
      return moved;
    } catch (NoidException ex) {
      String placed = target;
      if (!placed.isEmpty() && vms.byId(e.id()).map(v -> !v.node().equals(placed)).orElse(true)) {
        scheduler.release(placed, e.cpus(), e.memMib());
      }
      DrainStep failed = new DrainStep(e.name(), e.owner(), "FAILED", target, ex.getMessage());
      progress.accept(failed);
      return failed;
    }
  }

  /**
   * Forgets a node. Its VMs follow their node-loss policy: restored elsewhere from their newest
   * checkpoint that has a copy on another node, when asked for at create time; else FAILED.
   * VMs that were being destroyed are forgotten with it. Returns what happened to each VM.
   */
  public List<NodeLossOutcome> removeNode(String node) {
    nodes.remove(node);
    List<NodeLossOutcome> outcomes = new ArrayList<>();
    for (VmEntry e : vms.all().stream().filter(v -> v.node().equals(node)).toList()) {
      scheduler.release(node, e.cpus(), e.memMib());
      if (e.state() == VmState.VM_STATE_DESTROYING) {
        vms.delete(e);
        outcomes.add(new NodeLossOutcome(e.name(), e.owner(), NodeLossOutcome.Kind.REMOVED, "", "was being destroyed"));
        continue;
      }
      boolean restore = "NODE_LOSS_POLICY_RESTORE_LAST_CHECKPOINT".equals(e.nodeLossPolicy());
      java.util.Optional<CheckpointEntry> ck = restore ? checkpoints.ownedBy(e.owner()).stream()
          .filter(c -> c.vmId().equals(e.id()))
          .filter(c -> c.nodes().stream().anyMatch(n -> !n.equals(node) && nodes.get(n).map(x -> x.ready()).orElse(false)))
          .reduce((a, b) -> b) : java.util.Optional.empty();
      if (ck.isEmpty()) {
        String why = "node " + node + " was removed"
            + (restore ? "; no checkpoint of it is on another ready node" : "");
        vms.update(e.with(VmState.VM_STATE_FAILED, why));
        outcomes.add(new NodeLossOutcome(e.name(), e.owner(), NodeLossOutcome.Kind.FAILED, "", why));
        continue;
      }
      String target = ck.get().nodes().stream().filter(n -> !n.equals(node)).findFirst().orElseThrow();
      try {
        scheduler.placeOn(new Placement(e.cpus(), e.memMib(), e.image(), target, Map.of()), nodes.require(target));
        VmEntry moved = vms.update(e.withNode(target).with(VmState.VM_STATE_CREATING,
            "node " + node + " was removed; restoring " + ck.get().id() + " on " + target));
        restoreInPlace(new Principal(e.owner(), false), ck.get(), target, true);
        log.atInfo().addKeyValue("vm_name", moved.name()).log("restored {} on {} after removing {}",
            moved.name(), target, node);
        outcomes.add(new NodeLossOutcome(e.name(), e.owner(), NodeLossOutcome.Kind.RESTORED, target,
            "restored checkpoint " + ck.get().id()));
      } catch (NoidException ex) {
        String why = "node " + node + " was removed and the restore failed: " + ex.getMessage();
        vms.byId(e.id()).ifPresent(cur -> vms.update(cur.with(VmState.VM_STATE_FAILED, why)));
        outcomes.add(new NodeLossOutcome(e.name(), e.owner(), NodeLossOutcome.Kind.FAILED, "", why));
      }
    }
    return outcomes;
  }

  private void destroyOnNode(VmEntry e) {
    try {
      agents.blocking(e.node(), 60).destroyVm(DestroyVmRequest.newBuilder().setId(e.id()).build());
    } catch (StatusRuntimeException ex) {
      if (ex.getStatus().getCode() != io.grpc.Status.Code.NOT_FOUND) {
        throw AgentClients.translate(e.node(), ex);
      }
    }
  }

  private VmEntry cloneFrom(Principal who, CheckpointEntry ck, String asName, String node) {
    String problem = ResourceNames.problem("as_name", asName);
    if (problem != null) {
      throw NoidException.invalid(problem);
    }
    Instant now = clock.instant();
    VmEntry clone = vms.insert(new VmEntry(newId(), who.name(), asName, ck.cpus(), ck.memMib(), 0,
        ck.image(), Map.of(), node, Map.of(), "NODE_LOSS_POLICY_UNSPECIFIED",
        VmState.VM_STATE_PENDING, VmState.VM_STATE_RUNNING, "", "clone of " + ck.id(), 0, ck.id(),
        0, now, now, "", ""));
    String target;
    try {
      Placement want = new Placement(clone.cpus(), clone.memMib(), clone.image(), node, Map.of());
      if (node.isEmpty()) {
        target = scheduler.place(want, nodes.view());
      } else {
        scheduler.placeOn(want, nodes.require(node));
        target = node;
      }
    } catch (NoidException ex) {
      vms.delete(clone);
      throw ex;
    }
    VmEntry placed = vms.update(clone.withNode(target).with(VmState.VM_STATE_CREATING,
        "restoring checkpoint " + ck.id()));
    return withLock(placed.id(), () -> {
      try {
        ensureOn(ck, target);
        VmReport r = agents.blocking(target, agentDeadlineSeconds()).restoreCheckpoint(
            RestoreCheckpointRequest.newBuilder().setCheckpointId(ck.id()).setTarget(spec(placed))
                .setBootTimeoutSeconds((int) bootTimeout.toSeconds()).build()).getVm();
        return vms.update(withNetwork(placed, r)
            .with(fromAgent(r.getState()), "cloned from " + ck.id()));
      } catch (StatusRuntimeException ex) {
        NoidException ne = AgentClients.translate(target, ex);
        fail(placed, "restore", ne.getMessage());
        throw ne;
      } catch (NoidException ne) {
        fail(placed, "restore", ne.getMessage());
        throw ne;
      }
    });
  }

  // ------------------------------------------------------------------ exec / console support

  /** The node and agent id of a VM that can take commands now. */
  public VmEntry requireRunning(Principal who, String name, String action) {
    VmEntry e = get(who, name);
    if (e.state() != VmState.VM_STATE_RUNNING) {
      throw new NoidException(Code.WRONG_STATE, "cannot " + action + " VM '" + name + "': it is "
          + stateName(e.state()) + ", needs RUNNING");
    }
    return e;
  }

  // ------------------------------------------------------------------ observation & reconciling

  /** A node's heartbeat: actual states of its VMs. */
  public void observe(String node, List<VmReport> reports) {
    Map<String, VmReport> byId = new java.util.HashMap<>();
    reports.forEach(r -> byId.put(r.getId(), r));
    // A heartbeat is a snapshot taken a moment before it arrives: right after an operation it
    // can still show the VM as it was (CREATING, or absent), so recent changes are left alone
    // for one lease. UNKNOWN only comes from a lost lease, so any report after it is news.
    Instant settled = clock.instant().minus(nodes.lease());
    for (VmEntry e : vms.onNode(node)) {
      if (!e.node().equals(node) || locked(e.id())) {
        continue;
      }
      if (e.state() != VmState.VM_STATE_UNKNOWN && e.updated() != null && e.updated().isAfter(settled)) {
        continue;
      }
      VmReport r = byId.get(e.id());
      VmState actual;
      String why;
      if (r == null) {
        if (isSettled(e.state()) || isOrphanedTransition(e.state())) {
          actual = VmState.VM_STATE_FAILED;
          why = "the VM is no longer on node " + node;
        } else {
          continue;
        }
      } else if (r.getState() == AgentVmState.AGENT_VM_STATE_CREATING) {
        continue; // mid-operation on the node: its outcome will come as its own report
      } else {
        actual = fromAgent(r.getState());
        // Only used when the state changes: then the old message (e.g. "not reporting") is stale.
        why = r.getState() == AgentVmState.AGENT_VM_STATE_DEAD ? "VMM died: " + r.getReason()
            : !r.getReason().isEmpty() ? r.getReason()
            : "reconciled: node " + node + " reports " + stateName(actual);
      }
      if (r != null && !withNetwork(e, r).equals(e)) {
        // A VM given an address after it was created (a cold start on a node that has a
        // network now): the heartbeat is how the controller learns it.
        e = vms.update(withNetwork(e, r));
      }
      if (actual != e.state() && (isSettled(e.state()) || isOrphanedTransition(e.state()))) {
        if (actual == VmState.VM_STATE_FAILED) {
          observer.operationFailed("run");
          scheduler.release(e.node(), e.cpus(), e.memMib());
        }
        vms.update(e.with(actual, why));
      }
    }
    removeStrays(node, reports, settled);
  }

  /**
   * A transition no thread of this controller is driving (observe skips locked VMs): one
   * whose controller died mid-call, so only the node's report can finish it.
   */
  private static boolean isOrphanedTransition(VmState s) {
    return s == VmState.VM_STATE_CREATING || s == VmState.VM_STATE_STOPPING;
  }

  /**
   * VMs a node runs that this controller has placed on another node (a create retried
   * elsewhere after the node went silent, a move whose clean-up was cut short): destroyed
   * there, so one VM never runs twice. VMs the controller has no record of at all are left
   * alone and logged: a controller started on the wrong store must not wipe a fleet.
   */
  private void removeStrays(String node, List<VmReport> reports, Instant settled) {
    for (VmReport r : reports) {
      VmEntry e = vms.byId(r.getId()).orElse(null);
      if (e == null) {
        if (unknownReported.add(r.getId())) {
          log.atWarn().addKeyValue("node", node).addKeyValue("vm_id", r.getId())
              .log("node {} runs VM {}, which this controller has no record of; left alone",
                  node, r.getId());
        }
      } else if (!e.node().equals(node) && !locked(e.id()) && e.updated() != null
          && e.updated().isBefore(settled) && strayDestroys.add(r.getId())) {
        Thread.ofVirtual().name("stray-" + r.getId()).start(() -> {
          try {
            destroyOnNode(e.withNode(node));
            log.atWarn().addKeyValue("node", node).addKeyValue("vm_name", e.name())
                .log("destroyed stray copy of VM {} on node {}; the VM lives on {}", e.name(), node, e.node());
          } catch (RuntimeException ex) {
            log.warn("could not destroy stray copy of VM {} on node {}: {}", e.name(), node, ex.getMessage());
          } finally {
            strayDestroys.remove(r.getId());
          }
        });
      }
    }
  }

  private static VmEntry withNetwork(VmEntry e, VmReport r) {
    VmNetwork n = r.getSpec().getNetwork();
    return n.getIp().equals(e.ipAddress()) && n.getMac().equals(e.macAddress()) ? e
        : e.withNetwork(n.getIp(), n.getMac());
  }

  private static boolean isSettled(VmState s) {
    return s == VmState.VM_STATE_RUNNING || s == VmState.VM_STATE_PAUSED
        || s == VmState.VM_STATE_STOPPED || s == VmState.VM_STATE_UNKNOWN;
  }

  /** A node stopped reporting: its VMs are not known to be running, nor dead. */
  public void nodeLost(String node) {
    for (VmEntry e : vms.onNode(node)) {
      if (e.node().equals(node) && isSettled(e.state()) && e.state() != VmState.VM_STATE_UNKNOWN) {
        vms.update(e.with(VmState.VM_STATE_UNKNOWN, "node " + node + " is not reporting"));
      }
    }
  }

  /**
   * Drives every VM left in a transitional state (after a controller crash) to a final one, by
   * asking its node what is true. Safe to run at any time.
   */
  public void reconcile() {
    for (VmEntry e : vms.all()) {
      try {
        reconcileOne(e);
      } catch (RuntimeException ex) {
        log.atWarn().addKeyValue("vm_name", e.name()).log("reconcile of {} failed: {}", e.name(), ex.toString());
        vms.byId(e.id()).ifPresent(cur -> vms.update(cur.withRetry(cur.retryCount() + 1,
            "reconcile retry " + (cur.retryCount() + 1) + ": " + ex.getMessage())));
      }
    }
  }

  private void reconcileOne(VmEntry e) {
    switch (e.state()) {
      case VM_STATE_PENDING ->
        // Creates of this version store a VM only once it is placed (CREATING, under its
        // lock); a PENDING one was left by an earlier version whose create died unplaced.
        vms.byId(e.id()).filter(cur -> cur.state() == VmState.VM_STATE_PENDING).ifPresent(cur ->
            vms.update(cur.with(VmState.VM_STATE_FAILED, "the controller restarted before the VM was placed")));
      case VM_STATE_SCHEDULED -> drive(e.id());
      case VM_STATE_DESTROYING -> destroyEntry(e);
      case VM_STATE_CREATING, VM_STATE_STOPPING -> withLock(e.id(), () -> {
        VmEntry cur = vms.byId(e.id()).orElse(null);
        if (cur == null || cur.state() != e.state()) {
          return null; // the operation that held the lock finished it
        }
        try {
          VmReport r = agents.blocking(cur.node(), 30).getVm(GetVmRequest.newBuilder().setId(cur.id()).build()).getVm();
          if (r.getState() == AgentVmState.AGENT_VM_STATE_CREATING) {
            return null; // still booting there: its heartbeat report will finish it (observe)
          }
          VmState actual = fromAgent(r.getState());
          vms.update(cur.with(actual, "reconciled: node " + cur.node() + " reports " + stateName(actual)));
        } catch (StatusRuntimeException ex) {
          if (ex.getStatus().getCode() == io.grpc.Status.Code.NOT_FOUND) {
            fail(cur, "create", "the VM was not found on node " + cur.node() + " after a controller restart");
          } else {
            throw AgentClients.translate(cur.node(), ex);
          }
        }
        return null;
      });
      default -> { }
    }
  }

  /** Removes everything a user owns, on the nodes first. */
  public void removeOwner(String owner) {
    for (VmEntry e : vms.ownedBy(owner)) {
      try {
        destroyEntry(e);
      } catch (NoidException ex) {
        log.warn("could not destroy {} of removed user {}: {}", e.name(), owner, ex.getMessage());
      }
    }
    for (CheckpointEntry ck : checkpoints.ownedBy(owner)) {
      for (String n : ck.nodes()) {
        try {
          agents.blocking(n, 60).deleteCheckpoint(
              DeleteCheckpointRequest.newBuilder().setCheckpointId(ck.id()).build());
        } catch (RuntimeException ex) {
          log.warn("could not delete checkpoint {} of removed user {} on {}: {}", ck.id(), owner, n, ex.toString());
        }
      }
    }
    vms.forgetOwner(owner);
    checkpoints.forgetOwner(owner);
  }

  // ------------------------------------------------------------------ locking

  private boolean locked(String id) {
    ReentrantLock l = locks.get(id);
    return l != null && l.isLocked();
  }

  private <T> T withLock(String id, Supplier<T> work) {
    ReentrantLock lock = locks.computeIfAbsent(id, k -> new ReentrantLock());
    lock.lock();
    try {
      return work.get();
    } finally {
      lock.unlock();
    }
  }

  private static byte[] randomBytes(int n) {
    byte[] b = new byte[n];
    RANDOM.nextBytes(b);
    return b;
  }
}
