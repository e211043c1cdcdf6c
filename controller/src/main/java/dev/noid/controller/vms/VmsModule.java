package dev.noid.controller.vms;

import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import dev.noid.controller.agents.AgentClients;
import dev.noid.controller.config.ControllerConfig;
import dev.noid.controller.nodes.NodeRegistry;
import dev.noid.controller.scheduler.Scheduler;
import dev.noid.controller.store.Store;
import java.time.Clock;
import java.time.Duration;

/** VMs, checkpoints and the scheduler that places them. */
public final class VmsModule extends AbstractModule {
  @Provides
  @Singleton
  Scheduler scheduler(ControllerConfig config) {
    return new Scheduler("binpack".equals(config.scheduler())
        ? Scheduler.Strategy.BINPACK : Scheduler.Strategy.SPREAD);
  }

  @Provides
  @Singleton
  VmTable vmTable(Store store, Clock clock) {
    return new VmTable(store, clock);
  }

  @Provides
  @Singleton
  CheckpointTable checkpointTable(Store store) {
    return new CheckpointTable(store);
  }

  @Provides
  @Singleton
  VmService vmService(VmTable vms, CheckpointTable checkpoints, NodeRegistry nodes,
      Scheduler scheduler, AgentClients agents, Clock clock, ControllerConfig config,
      OperationObserver observer) {
    return new VmService(vms, checkpoints, nodes, scheduler, agents, clock,
        Duration.ofSeconds(config.bootTimeoutSeconds()), observer);
  }
}
