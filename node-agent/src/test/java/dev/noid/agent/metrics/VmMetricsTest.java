package dev.noid.agent.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.util.JsonFormat;
import dev.noid.agent.cloudhypervisor.CloudHypervisorDriver;
import dev.noid.agent.cloudhypervisor.VmmApi;
import dev.noid.agent.config.AgentConfig;
import dev.noid.agent.config.NetworkConfig;
import dev.noid.agent.golden.GoldenMode;
import dev.noid.agent.image.ImageCatalog;
import dev.noid.agent.image.NodeImages;
import dev.noid.agent.network.NoNetwork;
import dev.noid.api.agent.v1.VmReport;
import dev.noid.api.agent.v1.VmSpec;
import dev.noid.agent.vm.NodeCapacity;
import dev.noid.agent.vm.NodeLimits;
import dev.noid.agent.vm.VmManager;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The node's capacity and per-VM gauges as Prometheus scrapes them (the text, not Micrometer's names). */
class VmMetricsTest {
  @TempDir Path dir;

  @Test
  void memoryHeldByAGoldenBuildIsAllocatedAndShownApart() {
    NodeCapacity capacity = new NodeCapacity(new NodeLimits(2, 1024));
    // No VM is made here: the driver's binary is never run.
    CloudHypervisorDriver hypervisor = new CloudHypervisorDriver("/nonexistent", "test",
        VmmApi.MemoryRestoreMode.Copy);
    VmManager vms = VmManager.assemble(dir.resolve("vms"), hypervisor, NodeImages.local(new ImageCatalog(Map.of())), capacity,
        Duration.ofSeconds(5), new NoNetwork(), null, null);
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    try (VmMetrics metrics = new VmMetrics(registry, new VmStatsSampler(vms, hypervisor), vms, capacity,
        config())) {
      metrics.start(3600);
      assertThat(registry.scrape()).contains("noid_agent_memory_allocated_bytes{node=\"n1\"} 0.0")
          .contains("noid_agent_memory_held_bytes{node=\"n1\"} 0.0");

      try (NodeCapacity.Hold hold = capacity.hold("a golden build", 1, 512)) {
        assertThat(registry.scrape())
            .contains("noid_agent_memory_allocated_bytes{node=\"n1\"} 5.36870912E8")
            .contains("noid_agent_memory_held_bytes{node=\"n1\"} 5.36870912E8");
      }
      assertThat(registry.scrape()).contains("noid_agent_memory_held_bytes{node=\"n1\"} 0.0");
    }
  }

  @Test
  void perVmSeriesAreLabelledWithTheVmsNameItsIdAndItsOwner() throws Exception {
    // Two VMs as an agent restart finds them: one recorded with the name and owner the
    // controller sends, one recorded before those existed.
    record(VmSpec.newBuilder().setId("vm-3f9a").setHostname("web").setName("web")
        .setOwner("alice").setMemMib(128).build());
    record(VmSpec.newBuilder().setId("vm-old").setMemMib(128).build());
    NodeCapacity capacity = new NodeCapacity(new NodeLimits(2, 1024));
    CloudHypervisorDriver hypervisor = new CloudHypervisorDriver("/nonexistent", "test",
        VmmApi.MemoryRestoreMode.Copy);
    VmManager vms = VmManager.assemble(dir.resolve("vms"), hypervisor, NodeImages.local(new ImageCatalog(Map.of())),
        capacity, Duration.ofSeconds(5), new NoNetwork(), null, null);
    vms.adoptAll();
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    try (VmMetrics metrics = new VmMetrics(registry, new VmStatsSampler(vms, hypervisor), vms,
        capacity, config())) {
      metrics.start(3600);
      String scrape = registry.scrape();
      for (String series : List.of("noid_memory_usage_bytes", "noid_cpu_usage_percent",
          "noid_disk_usage_bytes")) {
        assertThat(scrape)
            .contains(series + "{node=\"n1\",user=\"alice\",vm=\"web\",vm_id=\"vm-3f9a\"}")
            .contains(series + "{node=\"n1\",user=\"\",vm=\"vm-old\",vm_id=\"vm-old\"}");
      }
      assertThat(scrape).doesNotContain("vm=\"vm-3f9a\"");
      // Both were recorded stopped; the count follows the table, not the moment of start().
      assertThat(scrape).contains("noid_agent_vms{node=\"n1\",state=\"stopped\"} 2.0")
          .contains("noid_agent_vms{node=\"n1\",state=\"running\"} 0.0")
          .doesNotContain("state=\"destroyed\"");
      vms.destroy("vm-old");
      assertThat(registry.scrape())
          .contains("noid_agent_vms{node=\"n1\",state=\"stopped\"} 1.0");
    }
  }

  // A VM's record (vm.json) as the agent writes it, marked stopped so no VMM is looked for.
  private void record(VmSpec spec) throws Exception {
    Path vmDir = dir.resolve("vms").resolve(spec.getId());
    Files.createDirectories(vmDir);
    Files.writeString(vmDir.resolve("vm.json"),
        JsonFormat.printer().print(VmReport.newBuilder().setId(spec.getId()).setSpec(spec)));
    Files.writeString(vmDir.resolve("stopped"), "stopped by the test");
  }

  private AgentConfig config() {
    return new AgentConfig("n1", "127.0.0.1", 0, 0, "", dir, dir.resolve("server.log"),
        dir.resolve("audit.log"), false, "", "", null, Map.of(), List.of(), "qemu-system-x86_64",
        "tcg", "qemu", "cloud-hypervisor", "copy", 2, 1024, 5, NetworkConfig.defaults(),
        GoldenMode.OFF, List.of());
  }
}
