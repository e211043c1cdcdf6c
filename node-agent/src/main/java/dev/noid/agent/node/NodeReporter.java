package dev.noid.agent.node;

import dev.noid.agent.config.AgentConfig;
import dev.noid.agent.hypervisor.Hypervisor;
import dev.noid.agent.image.NodeImages;
import dev.noid.agent.metrics.VmStatsSampler;
import dev.noid.api.agent.v1.ImagePull;
import dev.noid.api.agent.v1.NodeReport;
import dev.noid.api.agent.v1.VmReport;
import dev.noid.agent.vm.NodeLimits;
import dev.noid.agent.vm.VmManager;
import dev.noid.agent.vm.VmStatus;
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
  private final Hypervisor hypervisor;
  private final NodeImages images;
  private final NodeLimits limits;

  @Inject
  public NodeReporter(AgentConfig config, VmManager vms, VmStatsSampler stats, Hypervisor hypervisor,
      NodeImages images, NodeLimits limits) {
    this.config = config;
    this.vms = vms;
    this.stats = stats;
    this.hypervisor = hypervisor;
    this.images = images;
    this.limits = limits;
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
    long memUsed = vms.list().stream().mapToLong(r -> stats.sample(r.id()).memoryBytes()).sum();
    return NodeReport.newBuilder()
        .setNodeName(config.nodeName())
        .setHypervisor(hypervisor.kind())
        .setAccelerator(hypervisor.accelerator())
        .setHypervisorReason(hypervisor.reason())
        .setCpus(limits.cpus())
        .setMemoryBytes(limits.memoryMib() << 20)
        .setDiskBytes(diskTotal)
        .setDiskAvailableBytes(diskFree)
        .setMemoryUsedBytes(memUsed)
        .setAgentVersion(dev.noid.agent.Version.current())
        .addAllImages(images.names())
        .addAllPulls(images.pulls().stream().map(p -> ImagePull.newBuilder().setDigest(p.digest())
            .setDoneBytes(p.doneBytes()).setTotalBytes(p.totalBytes()).build()).toList())
        .putAllLabels(config.labels())
        .setMaxVmCpus(limits.cpus())
        .setMaxVmMemMib((int) Math.min(Integer.MAX_VALUE, limits.memoryMib()))
        .build();
  }

  public List<VmReport> vmReports() {
    return vms.list().stream().map(this::withUsage).toList();
  }

  /** The VMs as a heartbeat reports them: no labels ({@link VmReports#forHeartbeat}). */
  public List<VmReport> heartbeatVmReports() {
    return vms.list().stream().map(this::withUsage).map(VmReports::forHeartbeat).toList();
  }

  /** The VM as the wire reports it, with its latest figures. */
  public VmReport withUsage(VmStatus vm) {
    VmStatsSampler.Sample s = stats.sample(vm.id());
    return VmReports.toProto(vm).toBuilder().setMemoryUsageBytes(s.memoryBytes()).setCpuUsagePercent(s.cpuPercent())
        .setDiskUsageBytes(s.diskBytes()).build();
  }
}
