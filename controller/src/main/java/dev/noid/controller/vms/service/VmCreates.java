package dev.noid.controller.vms.service;

import dev.noid.common.naming.ResourceNames;
import dev.noid.controller.agents.NodeAgents;
import dev.noid.controller.agents.NodeAgents.CreateOutcome;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.nodes.NodeRegistry;
import dev.noid.controller.scheduler.Placement;
import dev.noid.controller.scheduler.Scheduler;
import dev.noid.controller.users.Principal;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.vms.store.InsertRefusals;
import dev.noid.controller.vms.store.VmTable;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creates VMs: one, or a batch alike. Each is placed before it is stored (a request with no
 * room leaves no trace), stored CREATING, then brought up on its node; a node that cannot be
 * reached, or has no room after all, costs a retry on another node, up to
 * {@link #MAX_PLACEMENT_ATTEMPTS}. Any other refusal (a hypervisor failure among them) ends the
 * VM FAILED with the node's reason.
 */
public final class VmCreates {
  private static final Logger log = LoggerFactory.getLogger(VmCreates.class);
  /** The most VMs one {@link #createMany} call may create. */
  public static final int MAX_BATCH = 1000;
  static final int MAX_PLACEMENT_ATTEMPTS = 3;

  private final VmTable vms;
  private final VmRecords records;
  private final NewVms newVms;
  private final NodeRegistry nodes;
  private final Scheduler scheduler;
  private final NodeAgents agents;
  private final VmLocks locks;
  private final Clock clock;
  private final CreateRetries retries;

  public VmCreates(VmRecords records, NewVms newVms, NodeRegistry nodes, Scheduler scheduler,
      NodeAgents agents, VmLocks locks, Clock clock) {
    this.vms = records.table();
    this.records = records;
    this.newVms = newVms;
    this.nodes = nodes;
    this.scheduler = scheduler;
    this.agents = agents;
    this.locks = locks;
    this.clock = clock;
    this.retries = new CreateRetries(vms);
  }

  /**
   * Creates one VM. A name the owner has taken already is ALREADY_EXISTS, unless the VM under
   * it was made by a create with this request's (non-empty) request id: then this is a retry,
   * answered with that VM ({@link CreateRetries}).
   */
  public VmEntry create(Principal who, VmRequest r) {
    // Before the request is checked against the fleet: the retry is answered even if the
    // nodes changed since the first try (a node that could take the VM then is gone).
    Optional<VmEntry> made = retries.madeBefore(who.name(), r.name(), r.requestId());
    if (made.isPresent()) {
      VmEntry answer = retried(who, made.get(), r.waitForRunning());
      if (answer.state() != VmState.FAILED) {
        return answer;
      }
      // The try it repeats failed: cut off by a controller failover before its node had the
      // VM, say. A retry is the client asking again, so it tries again, under the same id.
      forgetFailed(answer);
    }
    try {
      return createNew(who, r);
    } catch (NoidException ne) {
      // Two tries of one request at once: the one that finds the name taken answers as a
      // retry. A VM whose insert is not yet committed is not found: that try gets ALREADY_EXISTS.
      if (ne.code() == NoidException.Code.ALREADY_EXISTS) {
        made = retries.madeBefore(who.name(), r.name(), r.requestId());
        if (made.isPresent()) {
          return retried(who, made.get(), r.waitForRunning());
        }
      }
      throw ne;
    }
  }

  private VmEntry createNew(Principal who, VmRequest r) {
    VmEntry desired = newVms.entry(who, r);
    refuseTakenNames(List.of(desired));
    nodes.awaitSettled();
    String node = scheduler.place(placement(desired), nodes.view());
    String note = nodes.get(node).map(n -> Scheduler.imageNote(placement(desired), n)).orElse("");
    VmEntry placed = desired.withNode(node);
    if (!note.isEmpty()) {
      placed = placed.with(placed.state(), "accepted: " + note);
    }
    return launch(List.of(placed), desired.name(), () ->
        log.atInfo().addKeyValue("vm_name", desired.name()).addKeyValue("user", who.name())
            .log("VM {} accepted and placed on {}{}", desired.name(), node,
                note.isEmpty() ? "" : " (" + note + ")"), r.waitForRunning()).getFirst();
  }

  private void forgetFailed(VmEntry failed) {
    locks.withLock(failed.id(), () -> {
      VmEntry cur = vms.byId(failed.id()).orElse(null);
      if (cur == null || cur.state() != VmState.FAILED) {
        return;
      }
      if (!cur.node().isEmpty()) {
        try {
          agents.destroy(cur.node(), cur.id());
        } catch (NoidException e) {
          if (e.code() != NoidException.Code.NOT_FOUND) {
            throw e;
          }
        }
      }
      vms.delete(cur);
      log.atInfo().addKeyValue("vm_name", cur.name()).log("create of {} retried with request id"
          + " {} after its earlier try failed ({}): creating it again", cur.name(),
          cur.requestId(), cur.statusMessage());
    });
  }

  private VmEntry retried(Principal who, VmEntry made, boolean wait) {
    log.atInfo().addKeyValue("vm_name", made.name()).addKeyValue("user", who.name())
        .log("create of {} retried with request id {}: answering the VM it made ({})", made.name(),
            made.requestId(), made.id());
    return retries.answer(made, wait);
  }

  /**
   * Creates {@code count} VMs alike, named {@code <template name>-<index>}: all placed in one
   * scheduler step and stored in one commit before any is started, so either there is room for
   * every one or nothing is created. Each then comes up on its node on its own, as a single
   * create does (its own retries elsewhere, its own FAILED reason). The template's request id
   * is not kept: a batch is not made idempotent by one (a taken name is ALREADY_EXISTS).
   */
  public List<VmEntry> createMany(Principal who, VmRequest template, long requested, long firstIndex) {
    if (requested < 1 || requested > MAX_BATCH) {
      throw NoidException.invalid("count must be 1 to " + MAX_BATCH + "; got " + requested);
    }
    int count = (int) requested;
    if (firstIndex < 0) {
      throw NoidException.invalid("first_index must not be negative; got " + firstIndex);
    }
    String prefixProblem = ResourceNames.problem("template.name", template.name());
    if (prefixProblem != null) {
      throw NoidException.invalid(prefixProblem);
    }
    String longest = template.name() + "-" + (firstIndex + count - 1);
    String nameProblem = ResourceNames.problem("template.name plus '-<index>'", longest);
    if (nameProblem != null) {
      throw NoidException.invalid(nameProblem);
    }
    VmEntry shape = newVms.entry(who, template);
    List<VmEntry> desired = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      desired.add(shape.renamed(NewVms.newId(), template.name() + "-" + (firstIndex + i)));
    }
    refuseTakenNames(desired);
    nodes.awaitSettled();
    List<String> placed = scheduler.placeAll(placement(shape), count, nodes.view());
    List<VmEntry> onNodes = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      onNodes.add(desired.get(i).withNode(placed.get(i)));
    }
    return launch(onNodes, template.name() + "-*", () -> log.atInfo().addKeyValue("user", who.name())
        .log("{} VMs {}-{}..{} accepted and placed", count, template.name(), firstIndex,
            firstIndex + count - 1), template.waitForRunning());
  }

  private static Placement placement(VmEntry e) {
    return new Placement(e.cpus(), e.memMib(), e.image(), e.nodeHint(), e.nodeSelector());
  }

  /** A taken name is the answer before a lack of room; the insert still decides races. */
  private void refuseTakenNames(List<VmEntry> wanted) {
    for (VmEntry e : wanted) {
      if (vms.find(e.owner(), e.name()).isPresent()) {
        throw InsertRefusals.alreadyExists(e);
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
        .map(e -> e.with(VmState.CREATING, "booting on " + e.node())).toList();
    CompletableFuture<List<VmEntry>> stored = new CompletableFuture<>();
    Thread driver = Thread.ofVirtual().name("create-" + what).start(() -> {
      List<VmLocks.Held> held = new ArrayList<>(creating.size());
      List<Thread> alone;
      try {
        for (VmEntry e : creating) {
          held.add(locks.lock(e.id()));
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
        locks.unlockAll(held);
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
    } catch (CompletionException ce) {
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

  /**
   * Brings a SCHEDULED VM (left by an earlier version) up on its node: CREATING, then RUNNING
   * or FAILED with the reason.
   */
  void drive(String id) {
    locks.withLock(id, () -> {
      VmEntry e = vms.byId(id).orElse(null);
      if (e == null || e.state() != VmState.SCHEDULED) {
        return;
      }
      Instant start = clock.instant();
      bringUp(vms.update(e.with(VmState.CREATING, "booting on " + e.node())),
          new LinkedHashSet<>(), start, null);
    });
  }

  /**
   * Brings stored CREATING VMs up together, their locks held by the caller: one batch per node,
   * one commit for all that came up. A VM its node refused goes on alone from there, through
   * the same retries as a single create, on a thread returned here: it takes the VM's lock
   * once the caller lets go of it.
   */
  private List<Thread> bringUpAll(List<VmEntry> creating) {
    Instant start = clock.instant();
    Map<String, List<VmEntry>> byNode = new LinkedHashMap<>();
    creating.forEach(e -> byNode.computeIfAbsent(e.node(), n -> new ArrayList<>()).add(e));
    Map<String, CreateOutcome> answers = new ConcurrentHashMap<>();
    if (byNode.size() == 1) {
      byNode.forEach((node, onNode) -> ask(node, onNode, answers));
    } else {
      try (var perNode = Executors.newVirtualThreadPerTaskExecutor()) {
        byNode.forEach((node, onNode) -> perNode.submit(() -> ask(node, onNode, answers)));
      }
    }
    List<VmEntry> up = new ArrayList<>();
    List<Thread> alone = new ArrayList<>();
    for (VmEntry e : creating) {
      CreateOutcome a = answers.get(e.id());
      if (a.vm() != null) {
        up.add(VmRecords.reported(e, a.vm(), "running on " + e.node()));
      } else {
        alone.add(Thread.ofVirtual().name("create-" + e.name()).start(() -> locks.withLock(e.id(), () -> {
          VmEntry cur = vms.byId(e.id()).orElse(null);
          if (cur != null && cur.revision() == e.revision()) {
            bringUp(cur, new LinkedHashSet<>(), start, a);
          }
        })));
      }
    }
    vms.updateAll(up);
    Duration took = Duration.between(start, clock.instant());
    for (VmEntry e : up) {
      records.created(e, took);
    }
    return alone;
  }

  private void ask(String node, List<VmEntry> onNode, Map<String, CreateOutcome> answers) {
    List<CreateOutcome> got = agents.createAll(node, onNode);
    for (int i = 0; i < onNode.size(); i++) {
      answers.put(onNode.get(i).id(), got.get(i));
    }
  }

  /**
   * Creates a CREATING VM on its node, placing it elsewhere while nodes cannot take it, until it
   * is RUNNING or FAILED. {@code answer}, when not null, is its node's answer already in hand.
   */
  private void bringUp(VmEntry creating, Set<String> tried, Instant start, CreateOutcome answer) {
    while (true) {
      tried.add(creating.node());
      CreateOutcome a = answer != null ? answer : agents.createAll(creating.node(), List.of(creating)).getFirst();
      answer = null;
      if (a.vm() != null) {
        vms.update(VmRecords.reported(creating, a.vm(), "running on " + creating.node()));
        records.created(creating, Duration.between(start, clock.instant()));
        return;
      }
      NoidException ne = a.failure();
      if (!ne.retryableElsewhere() || tried.size() >= MAX_PLACEMENT_ATTEMPTS) {
        records.fail(creating, "create", ne.getMessage());
        return;
      }
      String why = ne.code() == NoidException.Code.NO_CAPACITY ? creating.node() + " has no room"
          : creating.node() + " unreachable";
      scheduler.release(creating.node(), creating.cpus(), creating.memMib());
      String next;
      try {
        next = scheduler.place(placement(creating),
            nodes.view().stream().filter(n -> !tried.contains(n.name())).toList());
      } catch (NoidException none) {
        scheduler.reserveOn(creating.node(), creating.cpus(), creating.memMib()); // fail() releases it again
        records.fail(creating, "create", ne.getMessage() + "; no other node: " + none.getMessage());
        return;
      }
      log.atWarn().addKeyValue("vm_name", creating.name()).log("create of {} on {} failed ({}); retrying on {}",
          creating.name(), creating.node(), ne.getMessage(), next);
      int retry = creating.retryCount() + 1;
      creating = vms.update(creating.withRetry(retry, "retry " + retry + ": " + ne.getMessage())
          .withNode(next).with(VmState.CREATING, "retry " + retry + ": " + why + "; booting on " + next));
    }
  }
}
