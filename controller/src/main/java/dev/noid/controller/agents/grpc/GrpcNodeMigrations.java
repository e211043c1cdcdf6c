package dev.noid.controller.agents.grpc;

import dev.noid.api.agent.v1.AbortIncomingRequest;
import dev.noid.api.agent.v1.AgentMigrationGrpc;
import dev.noid.api.agent.v1.DescribeMigrationRequest;
import dev.noid.api.agent.v1.DescribeMigrationResponse;
import dev.noid.api.agent.v1.FinishIncomingRequest;
import dev.noid.api.agent.v1.FinishIncomingResponse;
import dev.noid.api.agent.v1.MigrateVmRequest;
import dev.noid.api.agent.v1.MigrateVmResponse;
import dev.noid.api.agent.v1.PrepareIncomingRequest;
import dev.noid.api.agent.v1.PrepareIncomingResponse;
import dev.noid.controller.agents.NodeMigrations;
import dev.noid.controller.vms.VmEntry;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * {@link NodeMigrations} over noid.agent.v1.AgentMigration, on the same mutual-TLS channels as
 * every other agent call; failures through {@link AgentStatus}.
 */
public final class GrpcNodeMigrations implements NodeMigrations {
  private final AgentClients clients;
  private final ImagePeers imagePeers;
  private final Duration bootTimeout;

  public GrpcNodeMigrations(AgentClients clients, TransferGrants grants, ImageSizes imageSizes,
      Duration bootTimeout) {
    this.clients = clients;
    this.imagePeers = new ImagePeers(clients, grants, imageSizes);
    this.bootTimeout = bootTimeout;
  }

  private <T> T call(String node, long deadlineSeconds,
      Function<AgentMigrationGrpc.AgentMigrationBlockingStub, T> rpc) {
    try {
      return rpc.apply(AgentMigrationGrpc.newBlockingStub(clients.channel(node))
          .withDeadlineAfter(deadlineSeconds, TimeUnit.SECONDS));
    } catch (RuntimeException e) {
      throw AgentStatus.toDomain(node, e);
    }
  }

  @Override
  public Prepared prepare(String source, String target, VmEntry vm) {
    DescribeMigrationResponse d = call(source, 30, a -> a.describeMigration(
        DescribeMigrationRequest.newBuilder().setId(vm.id()).build()));
    PrepareIncomingRequest.Builder request = PrepareIncomingRequest.newBuilder()
        .setSpec(d.getSpec()).setShape(d.getShape()).setSourceNode(source);
    imagePeers.forImage(target, d.getSpec().getImage()).ifPresent(request::setImagePeer);
    // The target may pull the image first.
    PrepareIncomingResponse p = call(target, 600, a -> a.prepareIncoming(request.build()));
    return new Prepared(p.getHost(), p.getMigrationPort(), p.getDiskPort());
  }

  @Override
  public Sent send(String source, String vmId, String target, Prepared at, Limits limits) {
    MigrateVmResponse r = call(source, limits.timeoutSeconds() + 60L, a -> a.migrateVm(
        MigrateVmRequest.newBuilder().setId(vmId).setTargetNode(target).setHost(at.host())
            .setMigrationPort(at.migrationPort()).setDiskPort(at.diskPort())
            .setDowntimeLimitMs(limits.downtimeMs())
            .setMaxBandwidthBytes(limits.maxBandwidthBytes())
            .setTimeoutSeconds(limits.timeoutSeconds()).build()));
    return new Sent(r.getRamBytes(), r.getDiskBytes(), r.getRounds(), r.getVmmDowntimeMs(),
        r.getTotalMs(), r.getGuestOffsetNs(), r.getGuestOffsetErrorNs());
  }

  @Override
  public Finished finish(String target, String vmId) {
    FinishIncomingResponse r = call(target, bootTimeout.toSeconds() + 60, a -> a.finishIncoming(
        FinishIncomingRequest.newBuilder().setId(vmId)
            .setBootTimeoutSeconds((int) bootTimeout.toSeconds()).build()));
    return new Finished(AgentMessages.vm(r.getVm()), r.getGuestOffsetNs(),
        r.getGuestOffsetErrorNs());
  }

  @Override
  public boolean abort(String target, String vmId) {
    return call(target, 60, a -> a.abortIncoming(AbortIncomingRequest.newBuilder().setId(vmId)
        .build())).getCommitted();
  }

}
