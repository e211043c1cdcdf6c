package dev.noid.agent.vm;

import dev.noid.agent.guest.GuestConnection;
import dev.noid.agent.hypervisor.Hypervisor;
import dev.noid.agent.hypervisor.VmmProcesses;
import dev.noid.agent.vm.AgentException.Code;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A VM's VMM process: started until its guest says it is ready, watched for dying on its own,
 * and stopped. Readiness is the guest agent's signal on its channel; nothing here sleeps.
 */
final class VmmSupervisor {
  private static final Duration RECONNECT = Duration.ofSeconds(5);
  private static final Logger log = LoggerFactory.getLogger(VmmSupervisor.class);

  private final Hypervisor hypervisor;
  private final Duration defaultBootTimeout;
  private final NodeCapacity capacity;

  VmmSupervisor(Hypervisor hypervisor, Duration defaultBootTimeout, NodeCapacity capacity) {
    this.hypervisor = hypervisor;
    this.capacity = capacity;
    this.defaultBootTimeout = defaultBootTimeout;
  }

  /**
   * Starts the VM's VMM with {@code starter} (a boot or a restore, returning its pid) and waits
   * for its guest's ready signal; the VM is RUNNING when this returns. Any failure stops the
   * VMM and is a hypervisor failure: the VMM died, refused, or its guest never became ready.
   */
  void bootAndWait(VmRecord vm, Duration bootTimeout, Supplier<Long> starter) {
    Duration timeout = bootTimeout == null || bootTimeout.isZero() ? defaultBootTimeout : bootTimeout;
    vm.moveTo(VmState.CREATING, "");
    // No save of an earlier VMM can be under way now: a marker one left (it died mid-save)
    // would make a later agent start resume this VMM even after its user paused it.
    Files2.deleteMarker(vm.layout.savingMarker());
    long generation = ++vm.generation;
    long pid = starter.get();
    vm.pid = pid;
    vm.started = Instant.now();
    watchExit(vm, pid, generation);
    watchVmm(vm, generation);
    long deadline = System.nanoTime() + timeout.toNanos();
    try {
      GuestConnection guest = GuestConnection.open(
          hypervisor.openGuestChannel(vm.layout, timeout), vm.id);
      attachGuest(vm, guest);
      guest.ready().get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
    } catch (TimeoutException | SocketTimeoutException e) {
      stop(vm);
      throw new AgentException(Code.HYPERVISOR_FAILED, "guest of VM '" + vm.id
          + "' did not become ready within " + timeout.toSeconds() + " s; VMM stopped");
    } catch (ExecutionException | IOException e) {
      String why = vm.reason().isEmpty()
          ? String.valueOf(e.getCause() != null ? e.getCause() : e) : vm.reason();
      stop(vm);
      throw new AgentException(Code.HYPERVISOR_FAILED, "VM '" + vm.id
          + "' failed before its guest was ready: " + why);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      stop(vm);
      throw new AgentException(Code.INTERNAL, "interrupted while booting " + vm.id, e);
    }
    markRunning(vm);
  }

  /**
   * Makes a VMM that runs already, its guest ready on {@code guest}, the VM's (a warm VM taken
   * over): watched as if started here, with no new connection for the guest to notice, and
   * RUNNING when this returns. A failure stops the VMM.
   */
  void takeOver(VmRecord vm, long pid, GuestConnection guest) {
    vm.moveTo(VmState.CREATING, "");
    long generation = ++vm.generation;
    vm.pid = pid;
    vm.started = Instant.now();
    attachGuest(vm, guest);
    watchExit(vm, pid, generation);
    watchVmm(vm, generation);
    if (!guest.isReady() || !guest.isOpen()) {
      stop(vm);
      throw new AgentException(Code.HYPERVISOR_FAILED, "the guest connection of the VMM taken"
          + " over for VM '" + vm.id + "' is closed");
    }
    markRunning(vm);
  }

  private void markRunning(VmRecord vm) {
    if (!vm.moveIf(VmState::isTransitional, VmState.RUNNING, "")) {
      // Its VMM died between the guest's signal and now: the exit watcher made it DEAD.
      String why = vm.reason();
      stop(vm);
      throw new AgentException(Code.HYPERVISOR_FAILED, "VM '" + vm.id
          + "' failed as its guest became ready: " + why);
    }
  }

  /**
   * Watches an adopted VMM (one that outlived the previous agent) as if it had started it;
   * {@code generation} is the VM's, bumped for this VMM.
   */
  void watch(VmRecord vm, long pid, long generation) {
    watchExit(vm, pid, generation);
    watchVmm(vm, generation);
  }

  private void watchExit(VmRecord vm, long pid, long generation) {
    ProcessHandle.of(pid).ifPresent(h -> h.onExit().thenRun(() -> {
      if (vm.generation != generation) {
        return;
      }
      String why = "VMM process " + pid + " exited unexpectedly" + VmFiles.lastLine(vm.layout.vmmLog());
      if (vm.moveIf(s -> s.holdsResources(), VmState.DEAD, why)) {
        log.atWarn().addKeyValue("vm_name", vm.id).log("VM {} is dead: {}", vm.id, why);
        closeGuest(vm);
      }
    }));
  }

  // The VMM may change its VM's state on its own: a guest that powers off leaves a Cloud
  // Hypervisor VMM running with nothing in it. Such a VM is DEAD (startable), not RUNNING.
  private void watchVmm(VmRecord vm, long generation) {
    closeWatch(vm);
    vm.vmmWatch = hypervisor.watch(vm.layout, change -> {
      if (vm.generation != generation || change != Hypervisor.StateChange.SHUTDOWN) {
        return;
      }
      String why = "the guest shut down (reported by the VMM)";
      if (vm.moveIf(VmState::runsVmm, VmState.DEAD, why)) {
        log.atWarn().addKeyValue("vm_name", vm.id).log("VM {} is dead: {}", vm.id, why);
        closeGuest(vm);
      }
    });
  }

  /** Stops the VM's VMM, if it has one alive, and forgets it; the VM's state is the caller's. */
  void stop(VmRecord vm) {
    vm.generation++;
    closeWatch(vm);
    closeGuest(vm);
    if (VmmProcesses.alive(vm.pid)) {
      hypervisor.shutdown(vm.layout, vm.pid);
    }
    vm.pid = 0;
  }

  /**
   * Stops the VM's VMM so that another can take its place (a restore, a cold boot after a
   * failed golden restore): the VM is CREATING again, by way of STOPPED if its VMM ran, as the
   * state table has it.
   */
  void stopForReplacement(VmRecord vm, String why) {
    stop(vm);
    // The VM goes on holding its memory (or takes it back only if it fits: a stopped VM's
    // memory may have gone to another VM meanwhile, issue 19 M1) without a moment in which
    // a create could take it.
    capacity.keepOrReadmit(vm, () -> {
      vm.moveIf(VmState::runsVmm, VmState.STOPPED, why);
      vm.moveTo(VmState.CREATING, "");
    });
  }

  /** Closes the host's connections to the VM's VMM and leaves the VMM running. */
  static void release(VmRecord vm) {
    closeWatch(vm);
    closeGuest(vm);
  }

  private static void closeWatch(VmRecord vm) {
    AutoCloseable w = vm.vmmWatch;
    vm.vmmWatch = null;
    if (w != null) {
      try {
        w.close();
      } catch (Exception e) {
        log.debug("closing the VMM watch of {}", vm.id, e);
      }
    }
  }

  /**
   * Opens the guest channel of a VM whose VMM could not serve one before (held stopped at a
   * migration's handover, then resumed), and waits up to 5 s for the guest's answer.
   */
  void reconnectGuest(VmRecord vm) {
    if (vm.guest != null && vm.guest.isOpen()) {
      return;
    }
    try {
      GuestConnection guest = GuestConnection.open(
          hypervisor.openGuestChannel(vm.layout, RECONNECT), vm.id);
      attachGuest(vm, guest);
      guest.ready().get(RECONNECT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (IOException | ExecutionException | TimeoutException e) {
      log.warn("VM {}: guest channel not reachable after resume: {}", vm.id, e.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * The VM's guest connection for a caller that does not hold the VM's lock (an exec), opened
   * again if it closed under a VMM that runs on (see {@link #workingGuest}). The lock is waited
   * for, within the same few seconds: a stop, pause, restore or migration holding it decides
   * what becomes of the VMM, and no connection is opened behind its back.
   */
  GuestConnection reopenGuest(VmRecord vm) {
    long deadline = System.nanoTime() + RECONNECT.toNanos();
    try {
      if (!vm.lock.tryLock(RECONNECT.toNanos(), TimeUnit.NANOSECONDS)) {
        throw noGuest(vm, "the channel closed; another operation on the VM holds it, try again");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AgentException(Code.INTERNAL, "interrupted while reconnecting to " + vm.id, e);
    }
    try {
      return workingGuest(vm, deadline);
    } finally {
      vm.lock.unlock();
    }
  }

  /**
   * The VM's open guest connection; one that closed while the VM runs on in the same VMM (the
   * guest agent restarted, or something in the guest connected to it: the newest connection
   * wins, docs/guest-protocol.md) is opened again, waiting a few seconds at most for the guest's
   * answer. The caller holds the VM's lock. WRONG_STATE when no connection can be had.
   */
  GuestConnection workingGuest(VmRecord vm) {
    return workingGuest(vm, System.nanoTime() + RECONNECT.toNanos());
  }

  private GuestConnection workingGuest(VmRecord vm, long deadline) {
    GuestConnection old = vm.guest;
    if (old != null && old.isOpen()) {
      return old; // still working, or reopened by a caller that held the lock first
    }
    long generation = vm.generation;
    if (vm.state() != VmState.RUNNING || !VmmProcesses.alive(vm.pid)) {
      throw noGuest(vm, "the VM is " + vm.state());
    }
    GuestConnection guest = null;
    try {
      guest = GuestConnection.open(hypervisor.openGuestChannel(vm.layout,
          Duration.ofNanos(Math.max(1, deadline - System.nanoTime()))), vm.id);
      guest.ready().get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
    } catch (IOException | ExecutionException | TimeoutException e) {
      closeQuietly(guest);
      throw noGuest(vm, "the channel closed and could not be opened again: " + e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      closeQuietly(guest);
      throw new AgentException(Code.INTERNAL, "interrupted while reconnecting to " + vm.id, e);
    }
    attachGuest(vm, guest);
    // The exit watcher takes no lock: a VMM that died meanwhile has its VM DEAD, and the
    // connection goes with it whichever of the two got here first.
    if (vm.state() != VmState.RUNNING || vm.generation != generation) {
      if (vm.guest == guest) {
        closeGuest(vm);
      }
      guest.close();
      throw noGuest(vm, "the VM is " + vm.state());
    }
    log.atInfo().addKeyValue("vm_name", vm.id).log("VM {}: guest channel opened again", vm.id);
    return guest;
  }

  private static AgentException noGuest(VmRecord vm, String why) {
    return new AgentException(Code.WRONG_STATE, "VM '" + vm.id + "' has no working guest agent"
        + " connection (" + why + ")");
  }

  /**
   * Makes {@code guest} the VM's. Its closing is logged unless the agent closed it: nothing else
   * tells that the guest agent went away, and the next command opens the channel again.
   */
  static void attachGuest(VmRecord vm, GuestConnection guest) {
    vm.guest = guest;
    guest.closed().thenRun(() -> {
      if (vm.guest == guest && vm.state() == VmState.RUNNING) {
        log.atWarn().addKeyValue("vm_name", vm.id).log("VM {}: the guest agent closed its"
            + " channel; it is opened again for the next command", vm.id);
      }
    });
  }

  private static void closeQuietly(GuestConnection guest) {
    if (guest != null) {
      guest.close();
    }
  }

  private static void closeGuest(VmRecord vm) {
    GuestConnection g = vm.guest;
    vm.guest = null;
    if (g != null) {
      g.close();
    }
  }
}
