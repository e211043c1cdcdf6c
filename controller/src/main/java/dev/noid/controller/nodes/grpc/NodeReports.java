package dev.noid.controller.nodes.grpc;

import dev.noid.api.agent.v1.HeartbeatRequest;
import dev.noid.api.agent.v1.JoinRequest;
import dev.noid.api.agent.v1.JoinResponse;
import dev.noid.api.agent.v1.NodeReport;
import java.util.List;
import dev.noid.controller.images.ImagePullsInFlight;
import dev.noid.controller.nodes.JoinService;
import dev.noid.controller.nodes.NodeEntry;

/** noid.agent.v1 registration messages to the nodes domain's terms and back. */
public final class NodeReports {

  /** A checkpoint's durability as a node reports it, as the controller keeps it. */
  static String durability(dev.noid.api.agent.v1.CheckpointDurability.State s) {
    return switch (s) {
      case STATE_DURABLE -> dev.noid.controller.vms.CheckpointEntry.DURABLE;
      case STATE_UPLOADING -> dev.noid.controller.vms.CheckpointEntry.UPLOADING;
      default -> dev.noid.controller.vms.CheckpointEntry.LOCAL;
    };
  }

  private NodeReports() {}

  /** The node as its heartbeat reports it; what the controller decides is left empty. */
  public static NodeEntry reported(HeartbeatRequest hb) {
    NodeReport r = hb.getNode();
    return new NodeEntry(hb.getNodeName(), hb.getAgentAddress(), r.getLabelsMap(), false,
        r.getHypervisor().name(), r.getAccelerator(), r.getHypervisorReason(), r.getCpus(),
        r.getMemoryBytes(), r.getDiskBytes(), r.getDiskAvailableBytes(), r.getMemoryUsedBytes(),
        r.getMaxVmCpus(), r.getMaxVmMemMib(), r.getImagesList(), r.getAgentVersion(),
        hb.getAgentInstanceId(), null, true, "", 0);
  }

  /** The image pulls the node's heartbeat reports running. */
  public static List<ImagePullsInFlight.Pull> pulls(HeartbeatRequest hb) {
    return hb.getNode().getPullsList().stream().map(p -> new ImagePullsInFlight.Pull(
        hb.getNodeName(), p.getDigest(), p.getDoneBytes(), p.getTotalBytes())).toList();
  }

  static JoinService.Request join(JoinRequest r) {
    return new JoinService.Request(r.getNodeName(), r.getAgentAddress(), r.getJoinToken(),
        r.getCsrPem(), r.getLabelsMap());
  }

  static JoinResponse joined(JoinService.Joined j) {
    return JoinResponse.newBuilder()
        .setCertificatePem(j.certificatePem())
        .setCaCertificatePem(j.caCertificatePem())
        .setHeartbeatIntervalMs((int) j.pace().interval().toMillis())
        .setLeaseMs((int) j.pace().lease().toMillis())
        .setNodeSubnet(j.nodeSubnet())
        .addAllControllers(j.controllers())
        .build();
  }
}
