package dev.noid.controller.agents.grpc;

import dev.noid.api.agent.v1.AgentGrpc;
import dev.noid.api.agent.v1.CheckpointInfo;
import dev.noid.api.agent.v1.CreateCheckpointRequest;
import dev.noid.api.agent.v1.CreateVmRequest;
import dev.noid.api.agent.v1.DeleteCheckpointRequest;
import dev.noid.api.agent.v1.DestroyVmRequest;
import dev.noid.api.agent.v1.GetVmRequest;
import dev.noid.api.agent.v1.ListCheckpointsRequest;
import dev.noid.api.agent.v1.PauseVmRequest;
import dev.noid.api.agent.v1.RestoreCheckpointRequest;
import dev.noid.api.agent.v1.ResumeVmRequest;
import dev.noid.api.agent.v1.StartVmRequest;
import dev.noid.api.agent.v1.StopVmRequest;
import dev.noid.api.agent.v1.VmReport;
import dev.noid.controller.agents.NodeAgents;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.NoidException.Code;
import dev.noid.controller.vms.VmEntry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * {@link NodeAgents} over noid.agent.v1 with mutual TLS: domain records to protocol messages,
 * every call with a deadline, and every failure through {@link AgentStatus}. Creates go in
 * batches on each node's create stream ({@link BatchedCreates}).
 */
public final class GrpcNodeAgents implements NodeAgents {
  private final AgentClients clients;
  private final BatchedCreates creates;
  private final DirectCopies copies;
  private final ImagePeers imagePeers;
  private final Duration bootTimeout;
  private final GrpcNodeMigrations live;

  public GrpcNodeAgents(AgentClients clients, TransferGrants grants, ImageSizes imageSizes,
      Duration bootTimeout) {
    this.clients = clients;
    this.live = new GrpcNodeMigrations(clients, grants, imageSizes, bootTimeout);
    this.creates = new BatchedCreates(clients);
    this.copies = new DirectCopies(clients, grants, new CheckpointRelay(clients));
    this.imagePeers = new ImagePeers(clients, grants, imageSizes);
    this.bootTimeout = bootTimeout;
  }

  // How much longer than the boot timeout a call to an agent may take (transfer, QMP, ...).
  private long bootDeadlineSeconds() {
    return bootTimeout.toSeconds() + Math.min(30, Math.max(1, bootTimeout.toSeconds()));
  }

  /**
   * {@link #call}, not cancelled with the API call it serves: listing and deleting a node's
   * checkpoints settle what a caller who gave up left behind, and a delete half made by a
   * cancelled caller would leave files on some nodes.
   */
  private <T> T detached(String node, long deadlineSeconds,
      Function<AgentGrpc.AgentBlockingStub, T> rpc) {
    io.grpc.Context own = io.grpc.Context.current().fork();
    io.grpc.Context previous = own.attach();
    try {
      return call(node, deadlineSeconds, rpc);
    } finally {
      own.detach(previous);
    }
  }

  private <T> T call(String node, long deadlineSeconds, Function<AgentGrpc.AgentBlockingStub, T> rpc) {
    try {
      return rpc.apply(clients.blocking(node, deadlineSeconds));
    } catch (RuntimeException e) {
      throw AgentStatus.toDomain(node, e);
    }
  }

  @Override
  public List<CreateOutcome> createAll(String node, List<VmEntry> vms) {
    List<CreateVmRequest> requests = new ArrayList<>(vms.size());
    for (VmEntry e : vms) {
      requests.add(CreateVmRequest.newBuilder().setSpec(AgentMessages.spec(e))
          .setBootTimeoutSeconds((int) bootTimeout.toSeconds()).build());
    }
    List<BatchedCreates.Answer> answers;
    try {
      answers = creates.createAll(node, imagePeers.name(node, requests), bootDeadlineSeconds());
    } catch (RuntimeException e) {
      NoidException why = AgentStatus.toDomain(node, e);
      return java.util.Collections.nCopies(vms.size(), CreateOutcome.failed(why));
    }
    return answers.stream().map(a -> a.report() != null
        ? new CreateOutcome(AgentMessages.vm(a.report()), null)
        : CreateOutcome.failed(AgentStatus.toDomain(node, a.failure()))).toList();
  }

  @Override
  public NodeVm get(String node, String vmId) {
    return vm(call(node, 30, a -> a.getVm(GetVmRequest.newBuilder().setId(vmId).build()).getVm()));
  }

  @Override
  public NodeVm stop(String node, String vmId) {
    return vm(call(node, 60, a -> a.stopVm(StopVmRequest.newBuilder().setId(vmId).build()).getVm()));
  }

  @Override
  public NodeVm start(String node, String vmId) {
    return vm(call(node, bootDeadlineSeconds(), a -> a.startVm(StartVmRequest.newBuilder().setId(vmId)
        .setBootTimeoutSeconds((int) bootTimeout.toSeconds()).build()).getVm()));
  }

  @Override
  public NodeVm pause(String node, String vmId) {
    return vm(call(node, 30, a -> a.pauseVm(PauseVmRequest.newBuilder().setId(vmId).build()).getVm()));
  }

  @Override
  public NodeVm resume(String node, String vmId) {
    return vm(call(node, 30, a -> a.resumeVm(ResumeVmRequest.newBuilder().setId(vmId).build()).getVm()));
  }

  @Override
  public void destroy(String node, String vmId) {
    call(node, 60, a -> a.destroyVm(DestroyVmRequest.newBuilder().setId(vmId).build()));
  }

  @Override
  public NodeCheckpoint checkpoint(String node, String vmId, String checkpointId, String label) {
    CheckpointInfo info = call(node, 600, a -> a.createCheckpoint(CreateCheckpointRequest.newBuilder()
        .setVmId(vmId).setCheckpointId(checkpointId).setLabel(label).build()).getCheckpoint());
    return new NodeCheckpoint(info.getSizeBytes(), info.getDurationMs());
  }

  @Override
  public List<HeldCheckpoint> checkpointsOn(String node, String vmId) {
    return detached(node, 60, a -> a.listCheckpoints(ListCheckpointsRequest.newBuilder()
            .setVmId(vmId).build()))
        .getCheckpointsList().stream().map(c -> new HeldCheckpoint(c.getId(), c.getVmId(),
            c.getLabel(), c.getSizeBytes(), c.getDurationMs(), java.time.Instant.ofEpochSecond(
                c.getCreateTime().getSeconds(), c.getCreateTime().getNanos()))).toList();
  }

  @Override
  public void deleteCheckpoint(String node, String checkpointId) {
    detached(node, 60, a -> a.deleteCheckpoint(DeleteCheckpointRequest.newBuilder()
        .setCheckpointId(checkpointId).build()));
  }

  @Override
  public void fetchCheckpoint(String node, String checkpointId) {
    call(node, 600, a -> a.fetchCheckpoint(dev.noid.api.agent.v1.FetchCheckpointRequest
        .newBuilder().setCheckpointId(checkpointId).build()));
  }

  @Override
  public void copyCheckpoint(String checkpointId, String from, String to) {
    try {
      copies.copy(checkpointId, from, to);
    } catch (NoidException e) {
      throw e;
    } catch (RuntimeException e) {
      throw new NoidException(Code.INTERNAL, "copying checkpoint " + checkpointId + " from " + from
          + " to " + to + " failed: " + e.getMessage(), e);
    }
  }

  @Override
  public NodeVm restore(String node, String checkpointId, VmEntry vm) {
    RestoreCheckpointRequest.Builder request = RestoreCheckpointRequest.newBuilder()
        .setCheckpointId(checkpointId).setTarget(AgentMessages.spec(vm))
        .setBootTimeoutSeconds((int) bootTimeout.toSeconds());
    imagePeers.forImage(node, request.getTarget().getImage()).ifPresent(request::setImagePeer);
    return vm(call(node, bootDeadlineSeconds(), a -> a.restoreCheckpoint(request.build())
        .getVm()));
  }

  @Override
  public dev.noid.controller.agents.NodeMigrations live() {
    return live;
  }

  private static NodeVm vm(VmReport r) {
    return AgentMessages.vm(r);
  }
}
