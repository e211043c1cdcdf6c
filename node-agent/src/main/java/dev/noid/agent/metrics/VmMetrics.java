package dev.noid.agent.metrics;

import dev.noid.agent.config.AgentConfig;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.NodeCapacity;
import dev.noid.agent.vm.VmManager;
import dev.noid.agent.vm.VmState;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import java.io.IOException;
import java.nio.file.Files;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The seed's per-VM exporter: noid_memory_usage_bytes, noid_cpu_usage_percent and
 * noid_disk_usage_bytes, labelled vm (the VM's name), vm_id, user and node (see
 * {@link VmLabels}), plus node capacity gauges. Figures are sampled on a schedule (not per
 * scrape) so that a scrape is cheap and CPU percent has an interval.
 */
@Singleton
public final class VmMetrics implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(VmMetrics.class);
  private final MeterRegistry registry;
  private final VmStatsSampler sampler;
  private final VmManager vms;
  private final NodeCapacity capacity;
  private final AgentConfig config;
  private final Map<String, List<Meter>> perVm = new HashMap<>();
  private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor(
      Thread.ofPlatform().name("vm-metrics").daemon().factory());

  @Inject
  VmMetrics(io.micrometer.prometheusmetrics.PrometheusMeterRegistry registry,
      VmStatsSampler sampler, VmManager vms, NodeCapacity capacity, AgentConfig config) {
    this.registry = registry;
    this.sampler = sampler;
    this.vms = vms;
    this.capacity = capacity;
    this.config = config;
  }

  public void start(long intervalSeconds) {
    Tags node = Tags.of("node", config.nodeName());
    Gauge.builder("noid.agent.memory.capacity.bytes", capacity, c -> c.limits().memoryMib() << 20)
        .tags(node).register(registry);
    Gauge.builder("noid.agent.cpus", capacity, c -> c.limits().cpus()).tags(node).register(registry);
    Gauge.builder("noid.agent.memory.allocated.bytes", capacity,
            c -> c.allocatedMemoryMib() << 20)
        .description("Memory given out: to VMs, and held by golden-snapshot builds")
        .tags(node).register(registry);
    Gauge.builder("noid.agent.memory.held.bytes", capacity, c -> c.heldMemoryMib() << 20)
        .description("The part of the allocated memory held by golden-snapshot builds' throwaway"
            + " VMs").tags(node).register(registry);
    for (VmState state : VmState.values()) {
      if (state != VmState.DESTROYED) { // a destroyed VM leaves the table at once
        Gauge.builder("noid.agent.vms", vms, m -> m.list().stream()
                .filter(v -> v.state() == state).count())
            .description("VMs on this node per state")
            .tags(node.and("state", state.name().toLowerCase(Locale.ROOT))).register(registry);
      }
    }
    Gauge.builder("noid.agent.disk.capacity.bytes", config, c -> diskTotal()).tags(node).register(registry);
    Gauge.builder("noid.agent.disk.available.bytes", config, c -> diskFree()).tags(node).register(registry);
    refresh();
    // A periodic task that throws is never run again: one bad refresh would freeze every VM's
    // figures, and the heartbeat's usage with them, until the agent restarts.
    scheduler.scheduleWithFixedDelay(() -> {
      try {
        refresh();
      } catch (RuntimeException e) {
        log.warn("VM metrics not refreshed this time: {}", e.toString());
      }
    }, intervalSeconds, intervalSeconds, TimeUnit.SECONDS);
  }

  synchronized void refresh() {
    sampler.refresh();
    Map<String, VmStatsSampler.Sample> samples = sampler.all();
    for (String id : samples.keySet()) {
      if (!perVm.containsKey(id)) {
        labels(id).ifPresent(labels -> perVm.put(id, register(labels)));
      }
    }
    for (String gone : perVm.keySet().stream().filter(id -> !samples.containsKey(id)).toList()) {
      perVm.remove(gone).forEach(registry::remove);
    }
  }

  // Empty when the VM went away since it was sampled: the next refresh forgets its sample.
  private Optional<VmLabels> labels(String id) {
    try {
      return Optional.of(VmLabels.of(vms.status(id).spec()));
    } catch (AgentException e) {
      return Optional.empty();
    }
  }

  private List<Meter> register(VmLabels labels) {
    String id = labels.vmId();
    Tags tags = labels.tags(config.nodeName());
    return List.of(
        Gauge.builder("noid.memory.usage.bytes", sampler, s -> s.sample(id).memoryBytes())
            .description("Resident memory of the VM's VMM process").tags(tags).register(registry),
        Gauge.builder("noid.cpu.usage.percent", sampler, s -> s.sample(id).cpuPercent())
            .description("CPU used by the VM's VMM process, percent of one host CPU")
            .tags(tags).register(registry),
        Gauge.builder("noid.disk.usage.bytes", sampler, s -> s.sample(id).diskBytes())
            .description("Bytes allocated by the VM's files on the host").tags(tags).register(registry),
        Gauge.builder("noid.vcpu.usage.percent", sampler, s -> s.sample(id).vcpuPercent())
            .description("CPU used by the VM's vCPU threads (the guest running), percent of one"
                + " host CPU").tags(tags).register(registry),
        Gauge.builder("noid.disk.read.bytes", sampler, s -> s.sample(id).diskReadBytes())
            .description("Bytes the guest read from its disks since its VMM started, where the"
                + " VMM counts them (Cloud Hypervisor)").tags(tags).register(registry),
        Gauge.builder("noid.disk.written.bytes", sampler, s -> s.sample(id).diskWriteBytes())
            .description("Bytes the guest wrote to its disks since its VMM started, where the"
                + " VMM counts them (Cloud Hypervisor)").tags(tags).register(registry));
  }

  private long diskTotal() {
    try {
      return Files.getFileStore(config.stateDir()).getTotalSpace();
    } catch (IOException e) {
      return 0;
    }
  }

  private long diskFree() {
    try {
      return Files.getFileStore(config.stateDir()).getUsableSpace();
    } catch (IOException e) {
      return 0;
    }
  }

  @Override
  public void close() {
    scheduler.shutdownNow();
  }
}
