package dev.noid.agent.api;

import dev.noid.agent.config.AgentConfig;
import dev.noid.agent.hypervisor.Hypervisor;
import dev.noid.agent.hypervisor.LiveMigration;
import dev.noid.agent.node.VmReports;
import dev.noid.agent.transfer.ImageOffers;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.agent.vm.VmManager;
import dev.noid.agent.vm.VmMigrations;
import dev.noid.api.agent.v1.AbortIncomingRequest;
import dev.noid.api.agent.v1.AbortIncomingResponse;
import dev.noid.api.agent.v1.AgentMigrationGrpc;
import dev.noid.api.agent.v1.DescribeMigrationRequest;
import dev.noid.api.agent.v1.DescribeMigrationResponse;
import dev.noid.api.agent.v1.FinishIncomingRequest;
import dev.noid.api.agent.v1.FinishIncomingResponse;
import dev.noid.api.agent.v1.MigrateVmRequest;
import dev.noid.api.agent.v1.MigrateVmResponse;
import dev.noid.api.agent.v1.MigrationShape;
import dev.noid.api.agent.v1.PrepareIncomingRequest;
import dev.noid.api.agent.v1.PrepareIncomingResponse;
import io.grpc.stub.StreamObserver;
import jakarta.inject.Inject;
import java.time.Duration;

/**
 * noid.agent.v1.AgentMigration: a thin adapter over {@link VmMigrations}. The controller calls
 * it on both ends of a live migration; failures become gRPC status in {@link GrpcErrors}.
 */
public final class GrpcMigrationService extends AgentMigrationGrpc.AgentMigrationImplBase {
  static final Duration DEFAULT_DOWNTIME = Duration.ofMillis(300);
  static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(120);
  /** QEMU's own default caps a migration at 128 MiB/s; the operator's limit is the request's. */
  static final long UNCAPPED = 100L << 30;

  private final VmMigrations migrations;
  private final Hypervisor hypervisor;
  private final ImageOffers imageOffers;
  private final String host;

  @Inject
  GrpcMigrationService(VmManager vms, Hypervisor hypervisor, ImageOffers imageOffers,
      AgentConfig config) {
    this.migrations = vms.migrations();
    this.hypervisor = hypervisor;
    this.imageOffers = imageOffers;
    this.host = hostOf(config.advertiseAddress());
  }

  // The streams come where other nodes reach this one: the host of its advertised address.
  static String hostOf(String address) {
    String h = address.substring(0, Math.max(0, address.lastIndexOf(':')));
    return h.startsWith("[") && h.endsWith("]") ? h.substring(1, h.length() - 1) : h;
  }

  @Override
  public void describeMigration(DescribeMigrationRequest request,
      StreamObserver<DescribeMigrationResponse> out) {
    GrpcAgentService.unary(out, () -> {
      VmMigrations.Described d = migrations.describe(request.getId());
      LiveMigration.Shape s = d.shape();
      return DescribeMigrationResponse.newBuilder().setSpec(d.spec())
          .setShape(MigrationShape.newBuilder().setHypervisor(hypervisor.kind())
              .setAccelerator(s.accelerator()).setMachineType(s.machineType())
              .setDiskBytes(s.diskBytes()).setDiskOverlay(s.diskOverlay())
              .setHypervisorVersion(s.version()))
          .build();
    });
  }

  @Override
  public void prepareIncoming(PrepareIncomingRequest request,
      StreamObserver<PrepareIncomingResponse> out) {
    GrpcAgentService.unary(out, () -> {
      MigrationShape s = request.getShape();
      if (s.getHypervisor() != hypervisor.kind()) {
        throw new AgentException(Code.WRONG_STATE, "the VM runs under " + s.getHypervisor()
            + " on node " + request.getSourceNode() + "; this node runs " + hypervisor.kind());
      }
      if (request.getSourceNode().isEmpty()) {
        throw new AgentException(Code.INVALID_ARGUMENT, "source_node is required");
      }
      if (request.hasImagePeer()) {
        int at = request.getSpec().getImage().indexOf('@');
        if (at >= 0) {
          imageOffers.offer(request.getSpec().getImage().substring(at + 1),
              request.getImagePeer());
        }
      }
      LiveMigration.Endpoint e = migrations.prepare(request.getSpec(), new LiveMigration.Shape(
          s.getAccelerator(), s.getMachineType(), s.getDiskBytes(), s.getDiskOverlay(),
          s.getHypervisorVersion()), request.getSourceNode(), host);
      return PrepareIncomingResponse.newBuilder().setHost(e.host())
          .setMigrationPort(e.migrationPort()).setDiskPort(e.diskPort()).build();
    });
  }

  @Override
  public void migrateVm(MigrateVmRequest request, StreamObserver<MigrateVmResponse> out) {
    GrpcAgentService.unary(out, () -> {
      if (request.getTargetNode().isEmpty() || request.getHost().isEmpty()
          || request.getMigrationPort() == 0) {
        throw new AgentException(Code.INVALID_ARGUMENT, "target_node, host and migration_port"
            + " are required");
      }
      LiveMigration.Limits limits = new LiveMigration.Limits(
          request.getDowntimeLimitMs() == 0 ? DEFAULT_DOWNTIME
              : Duration.ofMillis(request.getDowntimeLimitMs()),
          request.getMaxBandwidthBytes() == 0 ? UNCAPPED : request.getMaxBandwidthBytes(),
          request.getTimeoutSeconds() == 0 ? DEFAULT_TIMEOUT
              : Duration.ofSeconds(request.getTimeoutSeconds()));
      VmMigrations.Sent sent = migrations.send(request.getId(), request.getTargetNode(),
          new LiveMigration.Endpoint(request.getHost(), request.getMigrationPort(),
              request.getDiskPort()), limits);
      LiveMigration.Outcome o = sent.outcome();
      return MigrateVmResponse.newBuilder().setRamBytes(o.ramBytes()).setDiskBytes(o.diskBytes())
          .setRounds(o.rounds()).setVmmDowntimeMs((int) o.vmmDowntimeMs())
          .setTotalMs((int) o.totalMs()).setGuestOffsetNs(sent.before().offsetNs())
          .setGuestOffsetErrorNs(sent.before().errorNs()).build();
    });
  }

  @Override
  public void finishIncoming(FinishIncomingRequest request,
      StreamObserver<FinishIncomingResponse> out) {
    GrpcAgentService.unary(out, () -> {
      VmMigrations.Finished f = migrations.finish(request.getId(),
          Duration.ofSeconds(request.getBootTimeoutSeconds()));
      return FinishIncomingResponse.newBuilder().setVm(VmReports.toProto(f.vm()))
          .setGuestOffsetNs(f.after().offsetNs()).setGuestOffsetErrorNs(f.after().errorNs())
          .build();
    });
  }

  @Override
  public void abortIncoming(AbortIncomingRequest request,
      StreamObserver<AbortIncomingResponse> out) {
    GrpcAgentService.unary(out, () -> AbortIncomingResponse.newBuilder()
        .setCommitted(migrations.abort(request.getId())).build());
  }
}
