package dev.noid.controller.vms;

import dev.noid.controller.quotas.Quotas;
import dev.noid.controller.vms.store.CheckpointTable;
import dev.noid.controller.vms.store.VmTable;
import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import dev.noid.controller.agents.NodeAgents;
import dev.noid.controller.agents.grpc.AgentClients;
import dev.noid.controller.agents.grpc.GrpcNodeAgents;
import dev.noid.controller.config.ControllerConfig;
import dev.noid.controller.nodes.NodeRegistry;
import dev.noid.controller.scheduler.Scheduler;
import dev.noid.controller.store.Store;
import dev.noid.controller.users.UserDirectory;
import dev.noid.controller.vms.service.Checkpoints;
import dev.noid.controller.vms.service.Evacuation;
import dev.noid.controller.vms.service.Reconciler;
import dev.noid.controller.vms.service.UserRemoval;
import dev.noid.controller.vms.service.VmCreates;
import dev.noid.controller.vms.service.VmRecords;
import dev.noid.controller.vms.service.VmServices;
import dev.noid.controller.images.FleetImages;
import dev.noid.controller.vms.service.VmTransitions;
import java.time.Clock;
import java.time.Duration;

/** VMs, checkpoints, the scheduler that places them and the agents that run them. */
public final class VmsModule extends AbstractModule {
  @Provides
  @Singleton
  Scheduler scheduler(ControllerConfig config) {
    return new Scheduler("binpack".equals(config.scheduler())
        ? Scheduler.Strategy.BINPACK : Scheduler.Strategy.SPREAD);
  }

  @Provides
  @Singleton
  Quotas quotas(Store store, UserDirectory users) {
    return Quotas.following(store, users);
  }

  @Provides
  @Singleton
  VmTable vmTable(Store store, Clock clock, Quotas quotas,
      dev.noid.controller.ha.Leadership leadership) {
    return new VmTable(store, clock, quotas, leadership.revisionFloor());
  }

  @Provides
  @Singleton
  CheckpointTable checkpointTable(Store store, Quotas quotas) {
    return new CheckpointTable(store, quotas);
  }

  @Provides
  @Singleton
  NodeAgents nodeAgents(AgentClients clients, ControllerConfig config,
      dev.noid.controller.pki.ClusterPki pki, Clock clock,
      dev.noid.controller.images.ImageBlobs blobs) {
    dev.noid.common.tls.TlsFiles identity = pki.agentClientFiles();
    return new GrpcNodeAgents(clients, new dev.noid.controller.agents.grpc.TransferGrants(
        dev.noid.common.tls.KeyAndCertificate.read(identity.certificate(), identity.key()), clock),
        blobs::ext4Bytes, Duration.ofSeconds(config.bootTimeoutSeconds()));
  }

  @Provides
  @Singleton
  VmServices vmServices(VmTable vms, CheckpointTable checkpoints, NodeRegistry nodes,
      Scheduler scheduler, NodeAgents agents, Clock clock, OperationObserver observer,
      FleetImages images, Quotas quotas) {
    return VmServices.wire(vms, checkpoints, nodes, scheduler, agents, clock, observer, images,
        quotas::limits);
  }

  @Provides
  @Singleton
  dev.noid.controller.vms.service.CheckpointRetention retention(VmServices s) {
    return s.retention();
  }

  @Provides
  @Singleton
  dev.noid.controller.vms.service.UnrecordedCheckpoints unrecordedCheckpoints(VmServices s) {
    return s.unrecorded();
  }

  @Provides
  VmRecords records(VmServices s) {
    return s.records();
  }

  @Provides
  VmCreates creates(VmServices s) {
    return s.creates();
  }

  @Provides
  VmTransitions transitions(VmServices s) {
    return s.transitions();
  }

  @Provides
  Checkpoints checkpoints(VmServices s) {
    return s.checkpoints();
  }

  @Provides
  dev.noid.controller.vms.service.VmMoves moves(VmServices s) {
    return s.moves();
  }

  @Provides
  Evacuation evacuation(VmServices s) {
    return s.evacuation();
  }

  @Provides
  Reconciler reconciler(VmServices s) {
    return s.reconciler();
  }

  @Provides
  UserRemoval userRemoval(VmServices s) {
    return s.users();
  }
}
