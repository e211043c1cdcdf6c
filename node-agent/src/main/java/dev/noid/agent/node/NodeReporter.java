package dev.noid.agent.node;

import dev.noid.agent.config.AgentConfig;
import dev.noid.agent.metrics.VmStatsSampler;
import dev.noid.agent.v1.NodeReport;
import dev.noid.agent.v1.VmReport;
import dev.noid.agent.vm.VmManager;
import jakarta.inject.Inject;
import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.util.List;

/** The node's figures and each VM's, as the controller sees them in reports and heartbeats. */
public final class NodeReporter {
  private final AgentConfig config;
  private final VmManager vms;
  private final VmStatsSampler stats;

  @Inject
  NodeReporter(AgentConfig config, VmManager vms, VmStatsSampler stats) {
    this.config = config;
    this.vms = vms;
    this.stats = stats;
  }

  public NodeReport report() {
    long diskTotal = 0;
    long diskFree = 0;
    try {
      FileStore store = Files.getFileStore(config.stateDir());
      diskTotal = store.getTotalSpace();
      diskFree = store.getUsableSpace();
    } catch (IOException e) {
      // reported as zero; the controller then has no disk to place on
    }
    long memUsed = vms.list().stream().mapToLong(r -> stats.sample(r.getId()).memoryBytes()).sum();
    return NodeReport.newBuilder()
        .setNodeName(config.nodeName())
        .setHypervisor(vms.hypervisor().kind())
        .setAccelerator(vms.hypervisor().accelerator())
        .setHypervisorReason(vms.hypervisor().reason())
        .setCpus(vms.limits().cpus())
        .setMemoryBytes(vms.limits().memoryMib() << 20)
        .setDiskBytes(diskTotal)
        .setDiskAvailableBytes(diskFree)
        .setMemoryUsedBytes(memUsed)
        .setAgentVersion(dev.noid.agent.Version.current())
        .addAllImages(vms.images().names())
        .putAllLabels(config.labels())
        .setMaxVmCpus(vms.limits().cpus())
        .setMaxVmMemMib((int) Math.min(Integer.MAX_VALUE, vms.limits().memoryMib()))
        .build();
  }

  public List<VmReport> vmReports() {
    return vms.list().stream().map(this::withUsage).toList();
  }

  public VmReport withUsage(VmReport r) {
    VmStatsSampler.Sample s = stats.sample(r.getId());
    return r.toBuilder().setMemoryUsageBytes(s.memoryBytes()).setCpuUsagePercent(s.cpuPercent())
        .setDiskUsageBytes(s.diskBytes()).build();
  }
}
