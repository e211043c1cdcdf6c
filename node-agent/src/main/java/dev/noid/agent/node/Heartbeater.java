package dev.noid.agent.node;

import dev.noid.common.grpc.MessageLimits;
import com.google.protobuf.Timestamp;
import dev.noid.agent.config.AgentConfig;
import dev.noid.agent.server.ControllerEpochFloor;
import dev.noid.agent.tls.KnownControllers;
import dev.noid.agent.tls.NodeCredentials;
import dev.noid.api.agent.v1.HeartbeatRequest;
import dev.noid.api.agent.v1.HeartbeatResponse;
import dev.noid.api.agent.v1.NodeRegistrationGrpc;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import jakarta.inject.Inject;
import java.time.Instant;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reports this node and its VMs to the controller on a schedule, over mutual TLS (to the
 * leader when there are several controllers). On failure
 * it backs off exponentially (up to 10 s) and keeps trying; the controller's lease decides
 * when the node counts as lost.
 */
public final class Heartbeater implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Heartbeater.class);
  private static final long MAX_BACKOFF_MS = 10_000;

  private final AgentConfig config;
  private final NodeCredentials credentials;
  private final NodeReporter reporter;
  private final KnownControllers controllers;
  private final String instanceId = UUID.randomUUID().toString();
  private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor(
      Thread.ofPlatform().name("heartbeat").daemon().factory());
  private ManagedChannel channel;
  private long sequence;
  private long intervalMs = 2000;
  private long failures;
  private final dev.noid.agent.archive.ArchiveUploads uploads;
  private final ControllerEpochFloor epochs;

  @Inject
  Heartbeater(AgentConfig config, NodeCredentials credentials, NodeReporter reporter,
      KnownControllers controllers, dev.noid.agent.archive.ArchiveUploads uploads,
      ControllerEpochFloor epochs) {
    this.epochs = epochs;
    this.uploads = uploads;
    this.config = config;
    this.credentials = credentials;
    this.reporter = reporter;
    this.controllers = controllers;
  }

  /** Starts heartbeating if this node has joined a cluster. */
  public void start() {
    if (!credentials.joined() || config.controller() == null) {
      log.info("not joined to a cluster: no heartbeats (standalone)");
      return;
    }
    channel = controllers.channelBuilder(credentials.controllerCredentials())
        .maxInboundMessageSize(MessageLimits.AGENT_INBOUND_BYTES).build();
    scheduler.schedule(this::beat, 0, TimeUnit.MILLISECONDS);
  }

  private void beat() {
    long next;
    try {
      Instant now = Instant.now();
      var reported = uploads.recentChanges();
      HeartbeatResponse r = NodeRegistrationGrpc.newBlockingStub(channel)
          .withDeadlineAfter(Math.max(2000, intervalMs), TimeUnit.MILLISECONDS)
          .heartbeat(HeartbeatRequest.newBuilder().setNodeName(config.nodeName())
              .setAgentAddress(config.advertiseAddress()).setNode(reporter.report())
              .addAllVms(reporter.heartbeatVmReports()).setSequence(++sequence)
              .setAgentInstanceId(instanceId)
              .addAllCheckpointDurability(durability(reported))
              .setRevocationListNumber(credentials.revocations().number())
              .setSentTime(Timestamp.newBuilder().setSeconds(now.getEpochSecond()).setNanos(now.getNano()))
              .build());
      uploads.acknowledged(reported);
      adoptRevocations(r);
      // A new leader fences its predecessor here too, before it calls this node itself.
      epochs.raise(r.getControllerEpoch());
      if (r.getHeartbeatIntervalMs() > 0) {
        intervalMs = r.getHeartbeatIntervalMs();
      }
      if (failures > 0) {
        log.info("heartbeats reach the controller again after {} failures", failures);
      }
      failures = 0;
      next = intervalMs;
    } catch (StatusRuntimeException | IllegalStateException e) {
      failures++;
      next = Math.min(MAX_BACKOFF_MS, intervalMs * (1L << Math.min(failures, 4)) / 2);
      if (failures == 1 || failures % 10 == 0) {
        log.warn("heartbeat to {} failed ({} in a row): {}", controllers.describe(), failures, e.getMessage());
      }
    }
    if (!scheduler.isShutdown()) {
      scheduler.schedule(this::beat, next, TimeUnit.MILLISECONDS);
    }
  }

  private void adoptRevocations(HeartbeatResponse r) {
    if (r.getNodeRevocationList().isEmpty()) {
      return;
    }
    try {
      credentials.revocations().adopt(r.getNodeRevocationList().toByteArray());
    } catch (java.security.GeneralSecurityException | java.io.IOException | RuntimeException e) {
      // Never out of beat(): the next beat must be scheduled whatever the list holds.
      log.warn("the controller's node revocation list: {}", e.toString());
    }
  }

  // Each change is sent for a while, not once: the controller may not know the checkpoint yet.
  private java.util.List<dev.noid.api.agent.v1.CheckpointDurability> durability(
      java.util.List<dev.noid.agent.archive.ArchiveUploads.Status> reported) {
    return reported.stream().map(s -> dev.noid.api.agent.v1.CheckpointDurability
        .newBuilder().setCheckpointId(s.checkpointId()).setMessage(s.message())
        .setState(switch (s.state()) {
          case LOCAL -> dev.noid.api.agent.v1.CheckpointDurability.State.STATE_LOCAL;
          case UPLOADING -> dev.noid.api.agent.v1.CheckpointDurability.State.STATE_UPLOADING;
          case DURABLE -> dev.noid.api.agent.v1.CheckpointDurability.State.STATE_DURABLE;
        }).build()).toList();
  }

  @Override
  public void close() {
    scheduler.shutdownNow();
    if (channel != null) {
      channel.shutdownNow();
    }
  }
}
