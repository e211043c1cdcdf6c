package dev.noid.client;

import dev.noid.api.v1.Node;
import dev.noid.api.v1.WatchNodesResponse;
import dev.noid.api.v1.WatchVmsResponse;
import dev.noid.api.v1.Checkpoint;
import dev.noid.api.v1.CreateCheckpointRequest;
import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.CreateVmsRequest;
import dev.noid.api.v1.DeleteCheckpointRequest;
import dev.noid.api.v1.DestroyVmRequest;
import dev.noid.api.v1.ExecStart;
import dev.noid.api.v1.GetVmRequest;
import dev.noid.api.v1.ListCheckpointsRequest;
import dev.noid.api.v1.ListCheckpointsResponse;
import dev.noid.api.v1.ListVmsRequest;
import dev.noid.api.v1.ListVmsResponse;
import dev.noid.api.v1.NodeServiceGrpc;
import dev.noid.api.v1.PauseVmRequest;
import dev.noid.api.v1.RestoreCheckpointRequest;
import dev.noid.api.v1.MigrateVmRequest;
import dev.noid.api.v1.MigrateVmResponse;
import dev.noid.api.v1.ResumeVmRequest;
import dev.noid.api.v1.StartVmRequest;
import dev.noid.api.v1.StopVmRequest;
import dev.noid.api.v1.UserServiceGrpc;
import dev.noid.api.v1.Image;
import dev.noid.api.v1.ImageServiceGrpc;
import dev.noid.api.v1.ImportImageStart;
import dev.noid.api.v1.Vm;
import dev.noid.api.v1.VmServiceGrpc;
import io.grpc.CallCredentials;
import io.grpc.ChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.TlsChannelCredentials;
import io.grpc.stub.AbstractStub;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The Java SDK for a Noid controller: create VMs, run commands in them, checkpoint, restore,
 * clone and destroy them.
 *
 * <pre>{@code
 * try (NoidClient noid = NoidClient.builder()
 *     .target("controller.example:7655")
 *     .token(System.getenv("NOID_TOKEN"))
 *     .trustedCa(Path.of("ca.pem"))
 *     .build()) {
 *   Vm vm = noid.createVm(CreateVmRequest.newBuilder().setName("api").build());
 *   ExecResult r = noid.exec("api", List.of("uname", "-a"));
 * }
 * }</pre>
 *
 * <p>Every call has a deadline (the builder's default unless a method takes its own). Calls
 * that are safe to repeat (reads, and idempotent state changes such as stop) are retried on
 * UNAVAILABLE through gRPC's service config; restores and execs never are. {@link #createVm}
 * is retried too: it sets a random {@code request_id} on every request that has none, and the
 * controller answers a repeated request id with the VM it already created. Callers of the raw
 * {@link #vms()} stub must set a request id themselves for the same guarantee. Failures are
 * {@link NoidException}s carrying the gRPC code and the server's message.
 *
 * <p>The target may name several controllers that share a store, {@code "c1:7655,c2,c3"}: calls
 * then go to whichever leads, and during a failover wait (within their deadline) for the next
 * leader; interactive streams (exec, console, image import), which have no deadline, wait up
 * to 30 s and then end UNAVAILABLE. See
 * {@link ControllerAddresses}.
 */
public final class NoidClient implements AutoCloseable {
  /**
   * The largest answer this client reads: the controller's own inbound limit. ListVms pages
   * end before 8 MiB (docs/api.md), so any page fits.
   */
  public static final int MAX_INBOUND_BYTES = 16 << 20;
  private final ManagedChannel channel;
  private final CallCredentials credentials;
  private final Duration deadline;
  private final boolean ownsChannel;
  private final Watches watches = new Watches();

  private NoidClient(ManagedChannel channel, CallCredentials credentials, Duration deadline,
      boolean ownsChannel) {
    this.channel = channel;
    this.credentials = credentials;
    this.deadline = deadline;
    this.ownsChannel = ownsChannel;
  }

  /** Starts building a client. */
  public static Builder builder() {
    return new Builder();
  }

  /** Configures a {@link NoidClient}. */
  public static final class Builder {
    private String target;
    private String token;
    private Path trustedCa;
    private Duration deadline = Duration.ofSeconds(300);
    private int maxAttempts = 4;
    private ManagedChannel channel;
    private boolean ownsChannel = true;

    private Builder() {}

    /**
     * Uses {@code channel}, which the caller keeps open after this client closes: many
     * clients (say, with different tokens) can share one connection.
     */
    public Builder sharedChannel(ManagedChannel channel) {
      this.channel = channel;
      this.ownsChannel = false;
      return this;
    }

    /**
     * Uses {@code channel} instead of making one from target and CA (a custom transport, an
     * in-process server in tests); the client closes it on close.
     */
    public Builder channel(ManagedChannel channel) {
      this.channel = channel;
      return this;
    }

    /**
     * The controller's gRPC address, host:port (default port 7655), or a comma list of the
     * addresses of several controllers, of which the client follows the leader.
     */
    public Builder target(String target) {
      this.target = target;
      return this;
    }

    /** The user's API token ({@code noid_tok_...}). */
    public Builder token(String token) {
      this.token = token;
      return this;
    }

    /** The cluster CA file that signed the controller's certificate; default: the JDK's trust store. */
    public Builder trustedCa(Path caFile) {
      this.trustedCa = caFile;
      return this;
    }

    /** Deadline of each call; creates and checkpoints of slow guests need minutes. */
    public Builder deadline(Duration deadline) {
      this.deadline = Objects.requireNonNull(deadline, "deadline");
      return this;
    }

    /** Attempts for idempotent calls on UNAVAILABLE (1 = no retry). */
    public Builder maxAttempts(int maxAttempts) {
      if (maxAttempts < 1 || maxAttempts > 5) {
        throw new IllegalArgumentException("maxAttempts must be 1-5; got " + maxAttempts);
      }
      this.maxAttempts = maxAttempts;
      return this;
    }

    /** Builds the client; the connection is made lazily on the first call. */
    public NoidClient build() {
      Objects.requireNonNull(token, "token is required");
      CallCredentials creds = new BearerToken(token);
      if (channel != null) {
        return new NoidClient(channel, creds, deadline, ownsChannel);
      }
      return new NoidClient(newChannel(target, trustedCa, maxAttempts), creds, deadline, true);
    }
  }

  /**
   * A TLS channel to the controller at {@code target} (host or host:port, default port 7655, or
   * a comma list of several controllers, of which it follows the leader) that trusts
   * {@code trustedCa} (null: the JDK's trust store); the channel connects lazily.
   */
  public static ManagedChannel newChannel(String target, Path trustedCa, int maxAttempts) {
    Objects.requireNonNull(target, "target is required");
    TlsChannelCredentials.Builder b = TlsChannelCredentials.newBuilder();
    if (trustedCa != null) {
      b.trustManager(ControllerTrust.of(trustedCa));
    }
    ChannelCredentials tls = b.build();
    return TargetChannels.build(target, tls, maxAttempts);
  }

  // ---------------------------------------------------------------- stubs

  /** The blocking VM stub with this client's token and deadline, for calls not wrapped here. */
  public VmServiceGrpc.VmServiceBlockingStub vms() {
    return bound(VmServiceGrpc.newBlockingStub(channel));
  }

  /** The blocking node stub (admin calls need an admin token). */
  public NodeServiceGrpc.NodeServiceBlockingStub nodes() {
    return bound(NodeServiceGrpc.newBlockingStub(channel));
  }

  /** The blocking user stub. */
  public UserServiceGrpc.UserServiceBlockingStub users() {
    return bound(UserServiceGrpc.newBlockingStub(channel));
  }

  /** The blocking image stub (import and remove need an admin token). */
  public ImageServiceGrpc.ImageServiceBlockingStub images() {
    return bound(ImageServiceGrpc.newBlockingStub(channel));
  }

  /**
   * Imports an image (admin): {@code start} names it and its source; {@code data} is the
   * source's bytes (null for a registry source, which the controller pulls). No deadline: a
   * large image takes minutes to send and convert. {@code sent} sees the bytes sent so far.
   */
  public Image importImage(ImportImageStart start, java.io.InputStream data,
      java.util.function.LongConsumer sent) {
    return Calls.call(() -> ImageUpload.run(ImageServiceGrpc.newStub(channel)
        .withCallCredentials(credentials), start, data, sent));
  }

  // Unary calls carry the token and the client's deadline.
  private <S extends AbstractStub<S>> S bound(S stub) {
    return stub.withCallCredentials(credentials)
        .withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS);
  }

  private VmServiceGrpc.VmServiceFutureStub futures() {
    return bound(VmServiceGrpc.newFutureStub(channel));
  }

  // ---------------------------------------------------------------- VMs

  /** Creates a VM and waits until it runs (unless the request sets wait=false). */
  public Vm createVm(CreateVmRequest request) {
    return Calls.call(() -> vms().createVm(RequestIds.ensure(request)).getVm());
  }

  /** Asynchronous {@link #createVm}. */
  public CompletableFuture<Vm> createVmAsync(CreateVmRequest request) {
    return Calls.async(futures().createVm(RequestIds.ensure(request)), r -> r.getVm());
  }

  /**
   * Creates {@code count} VMs alike, named {@code <template name>-0} onwards, and waits until each
   * runs or fails (unless the template sets wait=false). All are placed at once or none is
   * created. The answer is in index order; check each VM's state.
   */
  public List<Vm> createVms(CreateVmRequest template, int count) {
    return Calls.call(() -> vms().createVms(CreateVmsRequest.newBuilder().setTemplate(template)
        .setCount(count).build()).getVmsList());
  }

  /** Asynchronous {@link #createVms}. */
  public CompletableFuture<List<Vm>> createVmsAsync(CreateVmRequest template, int count) {
    return Calls.async(futures().createVms(CreateVmsRequest.newBuilder().setTemplate(template)
        .setCount(count).build()), r -> r.getVmsList());
  }

  /** One of the caller's VMs by name. */
  public Vm getVm(String name) {
    return Calls.call(() -> vms().getVm(GetVmRequest.newBuilder().setName(name).build()).getVm());
  }

  /** Asynchronous {@link #getVm}. */
  public CompletableFuture<Vm> getVmAsync(String name) {
    return Calls.async(futures().getVm(GetVmRequest.newBuilder().setName(name).build()), r -> r.getVm());
  }

  /** Every VM of the caller, following pages. */
  public List<Vm> listVms() {
    return Calls.allPages(t -> vms().listVms(ListVmsRequest.newBuilder().setPageSize(1000)
        .setPageToken(t).build()), ListVmsResponse::getVmsList, ListVmsResponse::getNextPageToken);
  }

  /** Destroys a VM: its VMM stops and its files are removed. */
  public void destroyVm(String name) {
    Calls.call(() -> vms().destroyVm(DestroyVmRequest.newBuilder().setName(name).build()));
  }

  /** Asynchronous {@link #destroyVm}. */
  public CompletableFuture<Void> destroyVmAsync(String name) {
    return Calls.async(futures().destroyVm(DestroyVmRequest.newBuilder().setName(name).build()), r -> null);
  }

  /** Stops a VM (its disk is kept). */
  public Vm stopVm(String name) {
    return Calls.call(() -> vms().stopVm(StopVmRequest.newBuilder().setName(name).build()).getVm());
  }

  /** Starts a stopped VM. */
  public Vm startVm(String name) {
    return Calls.call(() -> vms().startVm(StartVmRequest.newBuilder().setName(name).build()).getVm());
  }

  /** Pauses a running VM. */
  public Vm pauseVm(String name) {
    return Calls.call(() -> vms().pauseVm(PauseVmRequest.newBuilder().setName(name).build()).getVm());
  }

  /** Resumes a paused VM. */
  public Vm resumeVm(String name) {
    return Calls.call(() -> vms().resumeVm(ResumeVmRequest.newBuilder().setName(name).build()).getVm());
  }

  /**
   * Moves a running VM to {@code node} (empty: where the scheduler places it) while it runs. If
   * live migration cannot be used or fails, it moves by checkpoint, copy and restore unless
   * {@code noFallback}; the report says which and why. Never retried: a move is not repeatable.
   */
  public MigrateVmResponse migrateVm(String name, String node, boolean noFallback) {
    return migrateVm(MigrateVmRequest.newBuilder().setName(name).setNode(node)
        .setNoFallback(noFallback).build());
  }

  /** As above, with every field of the request (e.g. its timeout). */
  public MigrateVmResponse migrateVm(MigrateVmRequest request) {
    // Its live timeout (default 120 s) and a fallback's checkpoint, copy and restore: a shorter
    // deadline reports a move still under way as failed, and invites a second one.
    long live = request.getTimeoutSeconds() == 0 ? 120
        : Integer.toUnsignedLong(request.getTimeoutSeconds());
    long waitMs = Math.max(deadline.toMillis(), TimeUnit.SECONDS.toMillis(live + 1800));
    return Calls.call(() -> vms().withDeadlineAfter(waitMs, TimeUnit.MILLISECONDS).migrateVm(request));
  }

  // ---------------------------------------------------------------- checkpoints

  /** Checkpoints a running or paused VM; the label is optional free text. */
  public Checkpoint checkpoint(String vm, String label) {
    return Calls.call(() -> vms().createCheckpoint(CreateCheckpointRequest.newBuilder().setVm(vm)
        .setLabel(label == null ? "" : label).build()).getCheckpoint());
  }

  /** Asynchronous {@link #checkpoint}. */
  public CompletableFuture<Checkpoint> checkpointAsync(String vm, String label) {
    return Calls.async(futures().createCheckpoint(CreateCheckpointRequest.newBuilder().setVm(vm)
        .setLabel(label == null ? "" : label).build()), r -> r.getCheckpoint());
  }

  /**
   * Checkpoints of one VM, or of all the caller's VMs when {@code vm} is empty: oldest first,
   * following pages.
   */
  public List<Checkpoint> checkpoints(String vm) {
    return Calls.allPages(t -> vms().listCheckpoints(ListCheckpointsRequest.newBuilder()
            .setVm(vm == null ? "" : vm).setPageSize(1000).setPageToken(t).build()),
        ListCheckpointsResponse::getCheckpointsList, ListCheckpointsResponse::getNextPageToken);
  }

  /**
   * Deletes a checkpoint by id. A retry that finds it gone after an attempt whose answer was
   * lost returns normally: that attempt deleted it, or it was not there; either way it is gone.
   */
  public void deleteCheckpoint(String id) {
    RetriedAttempts attempts = new RetriedAttempts();
    try {
      Calls.call(() -> vms().withInterceptors(attempts)
          .deleteCheckpoint(DeleteCheckpointRequest.newBuilder().setId(id).build()));
    } catch (NoidException e) {
      if (e.code() != io.grpc.Status.Code.NOT_FOUND || !attempts.mayHaveBeenApplied()) {
        throw e;
      }
    }
  }

  /**
   * Restores {@code checkpoint} (an id, or a label of {@code vm}'s checkpoints) into {@code vm}
   * in place, or, with {@code asName}, into a new VM; {@code node} picks where (may be empty).
   */
  public Vm restore(String vm, String checkpoint, String asName, String node) {
    return Calls.call(() -> vms().restoreCheckpoint(RestoreCheckpointRequest.newBuilder().setVm(vm)
        .setCheckpoint(checkpoint).setAsName(asName == null ? "" : asName)
        .setNode(node == null ? "" : node).build()).getVm());
  }

  // ---------------------------------------------------------------- exec and console

  /** Runs a command to completion and returns its output and exit code. */
  public ExecResult exec(String vm, List<String> command) {
    return exec(ExecStart.newBuilder().setVm(vm).addAllCommand(command).build());
  }

  /** Runs a command (with env, timeout, ...) to completion. */
  public ExecResult exec(ExecStart start) {
    return StreamCalls.execToEnd(streams(), start);
  }

  /** Starts a command and streams its output to {@code listener} as it comes. */
  public ExecSession exec(ExecStart start, ExecListener listener) {
    return StreamCalls.exec(streams(), start, listener);
  }

  /** Attaches to a VM's serial console; output goes to {@code output}, the end to {@code onEnd}. */
  public ConsoleSession console(String vm, Consumer<byte[]> output, Consumer<NoidException> onEnd) {
    return StreamCalls.console(streams(), vm, output, onEnd);
  }

  // Streams have no deadline: a command or a console session lasts as long as it lasts.
  private VmServiceGrpc.VmServiceStub streams() {
    return VmServiceGrpc.newStub(channel).withCallCredentials(credentials);
  }

  // ---------------------------------------------------------------- watches

  /**
   * Watches the caller's VMs (those with all of {@code labelSelector}'s labels): a snapshot,
   * SYNCED, then every change, resumed across disconnects from the last revision delivered.
   * Events arrive on a gRPC thread, one at a time; close the returned watch to stop.
   */
  public Watch<WatchVmsResponse, Vm> watchVms(Map<String, String> labelSelector, WatchListener<Vm> listener) {
    return watchVms(labelSelector, 0, listener);
  }

  /** As {@link #watchVms(Map, WatchListener)}, resuming from a revision a previous watch reached. */
  public Watch<WatchVmsResponse, Vm> watchVms(Map<String, String> labelSelector, long sinceRevision,
      WatchListener<Vm> listener) {
    return watches.vms(streams(), labelSelector, sinceRevision, listener);
  }

  /** Watches the fleet's nodes: readiness, cordons, capacity, joins and removals. */
  public Watch<WatchNodesResponse, Node> watchNodes(long sinceRevision, WatchListener<Node> listener) {
    return watches.nodes(NodeServiceGrpc.newStub(channel).withCallCredentials(credentials),
        sinceRevision, listener);
  }

  /**
   * Waits up to {@code max} for the channel to be able to send calls: with one address, a
   * connection; with several, a controller that leads. False if it could not within that time,
   * so a caller can fail fast with its own message instead of a call waiting for a leader until
   * its deadline (an interactive tool whose controllers are all down).
   */
  public boolean awaitConnected(Duration max) throws InterruptedException {
    return TargetChannels.awaitReady(channel, max);
  }

  /**
   * Closes the connection; calls still running are cancelled, and open watches end (their
   * listeners' onEnd gets null), also on a shared channel.
   */
  @Override
  public void close() {
    watches.close();
    if (!ownsChannel) {
      return;
    }
    channel.shutdownNow();
    try {
      channel.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      channel.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }

  static Map<String, ?> retryConfigForTests(int attempts) {
    return RetryPolicy.serviceConfig(attempts);
  }
}
