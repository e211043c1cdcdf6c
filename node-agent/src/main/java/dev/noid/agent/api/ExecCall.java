package dev.noid.agent.api;

import dev.noid.agent.guest.ExecSink;
import dev.noid.agent.guest.ExecStream;
import dev.noid.agent.guest.Frame;
import dev.noid.api.agent.v1.ExecExit;
import dev.noid.api.agent.v1.ExecRequest;
import dev.noid.api.agent.v1.ExecResponse;
import dev.noid.api.agent.v1.ExecStart;
import dev.noid.agent.vm.VmManager;
import com.google.protobuf.ByteString;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;

/**
 * One exec: the first request starts the command, later ones feed it; the guest's stdout and
 * stderr go out as they arrive and one exit ends the call. The timeout, the output cap and a
 * client going away all end in SIGKILL of the command's process group in the guest; after the
 * first two the call ends within {@link #EXIT_GRACE_SECONDS}, whatever the guest reports.
 */
final class ExecCall implements StreamObserver<ExecRequest> {
  static final int DEFAULT_TIMEOUT_SECONDS = 300;
  static final long DEFAULT_MAX_OUTPUT_BYTES = 64L << 20;
  /** The most max_output_bytes may ask for, as the controller's API limit. */
  static final long MAX_OUTPUT_BYTES = 1L << 30;
  /**
   * Output written while the caller was not ready for it, past which the exec is ended: the
   * guest's output arrives on the VM's one guest channel, which must not wait for one slow
   * caller, so a caller that stops reading is cut off instead (issue 19 H4).
   */
  static final long MAX_UNREAD_BYTES = 8L << 20;
  private static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
  private static final int SIGKILL = 9;
  /**
   * After the timeout's or the output cap's SIGKILL, the longest the call waits for the guest
   * to report the exit. The guest reports it once the command's output pipes close, which a
   * process that left the process group ({@code setsid cmd &}) can hold open for as long as it
   * runs; a stopped guest never reports. Past this the call ends as SIGKILL would end it.
   */
  static final long EXIT_GRACE_SECONDS = 10;

  private final VmManager vms;
  private final ServerCallStreamObserver<ExecResponse> out;
  private final ScheduledExecutorService timers;
  private final AtomicBoolean finished = new AtomicBoolean();
  private final AtomicBoolean timedOut = new AtomicBoolean();
  private final AtomicBoolean truncated = new AtomicBoolean();
  private final AtomicLong outputBytes = new AtomicLong();
  private final AtomicLong unread = new AtomicLong();
  private volatile ExecStream stream;
  private volatile PacedInput input;
  private volatile ScheduledFuture<?> timeout;
  private volatile ScheduledFuture<?> exitGrace;
  private final AtomicBoolean killing = new AtomicBoolean();
  private long maxOutput;
  private long startNanos;

  ExecCall(VmManager vms, ServerCallStreamObserver<ExecResponse> out,
      ScheduledExecutorService timers) {
    this.vms = vms;
    this.out = out;
    this.timers = timers;
    // Requests are read one at a time, and stdin handed on only as fast as the guest's command
    // takes it (ExecStream.whenStdinRoom): a fast sender waits in gRPC's flow control, back to
    // the user's client, instead of in the guest agent's buffer.
    out.disableAutoRequest();
    out.request(1);
    out.setOnReadyHandler(() -> unread.set(0));
    out.setOnCancelHandler(() -> {
      if (finished.compareAndSet(false, true)) {
        kill();
        cancelTimer();
      }
    });
  }

  static String validate(ExecStart start) {
    if (start.getVmId().isEmpty()) {
      return "vm_id is required";
    }
    if (start.getCommandCount() == 0 || start.getCommand(0).isEmpty()) {
      return "command is required (argv, at least one non-empty element)";
    }
    for (String name : start.getEnvMap().keySet()) {
      if (!ENV_NAME.matcher(name).matches()) {
        return "env name '" + name + "' is invalid: use [A-Za-z_][A-Za-z0-9_]*";
      }
    }
    // uint32 on the wire: past 2^31 a Java int is negative, which a signed check would pass.
    long timeout = Integer.toUnsignedLong(start.getTimeoutSeconds());
    if (timeout > 86_400) {
      return "timeout_seconds " + timeout + " exceeds the limit of 86400";
    }
    long frame = Frame.execBodyBytes(start.getCommandList(), start.getEnvMap());
    if (frame > Frame.MAX_BODY) {
      return "command and env take " + frame + " bytes in the guest protocol; at most "
          + Frame.MAX_BODY + " are allowed";
    }
    if (Long.compareUnsigned(start.getMaxOutputBytes(), MAX_OUTPUT_BYTES) > 0) {
      return "max_output_bytes " + Long.toUnsignedString(start.getMaxOutputBytes())
          + " exceeds the limit of " + MAX_OUTPUT_BYTES;
    }
    return null;
  }

  @Override
  public void onNext(ExecRequest request) {
    ExecRequest.MessageCase kind = request.getMessageCase();
    if (kind == ExecRequest.MessageCase.STDIN || kind == ExecRequest.MessageCase.STDIN_CLOSE) {
      PacedInput in = input;
      if (in == null) {
        fail(new AgentException(Code.WRONG_STATE, "the first exec request must be 'start'"));
        return;
      }
      in.offer(request); // it reads the next request when input may be read ahead
      return;
    }
    handle(request);
  }

  private void readNext() {
    if (!finished.get()) {
      out.request(1);
    }
  }

  /** A request other than input; then the next is read, whatever it is. */
  private void handle(ExecRequest request) {
    try {
      switch (request.getMessageCase()) {
        case START -> start(request.getStart());
        case SIGNAL -> requireStarted().signal(request.getSignal());
        case RESIZE -> requireStarted().resize(request.getResize().getRows(),
            request.getResize().getColumns());
        default -> fail(new AgentException(Code.INVALID_ARGUMENT, "empty exec request"));
      }
      if (!finished.get() && stream != null) {
        out.request(1);
      }
    } catch (IOException e) {
      fail(guestChannelFailed(e));
    } catch (RuntimeException e) {
      fail(e);
    }
  }

  private ExecStream requireStarted() {
    ExecStream s = stream;
    if (s == null) {
      throw new AgentException(Code.WRONG_STATE, "the first exec request must be 'start'");
    }
    return s;
  }

  private void start(ExecStart start) {
    if (stream != null) {
      fail(new AgentException(Code.INVALID_ARGUMENT, "exec already started"));
      return;
    }
    String problem = validate(start);
    if (problem != null) {
      fail(new AgentException(Code.INVALID_ARGUMENT, problem));
      return;
    }
    maxOutput = start.getMaxOutputBytes() == 0 ? DEFAULT_MAX_OUTPUT_BYTES : start.getMaxOutputBytes();
    int timeoutSeconds = start.getTimeoutSeconds() == 0 ? DEFAULT_TIMEOUT_SECONDS
        : start.getTimeoutSeconds();
    startNanos = System.nanoTime();
    stream = vms.exec(start.getVmId(), start.getCommandList(), start.getEnvMap(), start.getStdin(),
        start.getTty(), new Sink());
    input = new PacedInput(stream, this::readNext, e -> fail(e instanceof IOException io
        ? guestChannelFailed(io) : (RuntimeException) e));
    if (finished.get()) {
      // The client went away while the command was being started: its cancel handler found
      // no stream to kill, so kill it here rather than let it run unseen until its timeout.
      kill();
      return;
    }
    // A size of nothing (a caller that set the message, not its fields) keeps the pty's 24x80.
    if (start.getTty() && start.hasTerminalSize() && start.getTerminalSize().getRows() > 0
        && start.getTerminalSize().getColumns() > 0) {
      try {
        stream.resize(start.getTerminalSize().getRows(), start.getTerminalSize().getColumns());
      } catch (IOException e) {
        fail(guestChannelFailed(e));
        return;
      }
    }
    timeout = timers.schedule(() -> {
      timedOut.set(true);
      killThenEnd();
    }, timeoutSeconds, TimeUnit.SECONDS);
  }

  /** SIGKILL for a timeout or the output cap: the call ends within EXIT_GRACE_SECONDS. */
  private void killThenEnd() {
    if (!killing.compareAndSet(false, true)) {
      return;
    }
    exitGrace = timers.schedule(() -> finish(128 + SIGKILL), EXIT_GRACE_SECONDS, TimeUnit.SECONDS);
    kill();
  }

  /**
   * SIGKILL, sent on a thread of its own: a guest that stopped reading holds a send for up to
   * its channel's write limit (BoundedWrite), and none of the threads that ask for a kill may
   * wait that long: the node's one exec timer, gRPC's callback thread (a cancel), or the VM's
   * guest channel reader (the unread-output cap), which would stop all the VM's output.
   */
  private void kill() {
    ExecStream s = stream;
    if (s != null) {
      Thread.ofVirtual().name("exec-kill").start(() -> {
        try {
          s.signal(SIGKILL);
        } catch (IOException e) {
          // the guest channel is gone; so is the command's output
        }
      });
    }
  }

  private void cancelTimer() {
    for (ScheduledFuture<?> t : new ScheduledFuture<?>[] {timeout, exitGrace}) {
      if (t != null) {
        t.cancel(false);
      }
    }
  }

  private void finish(int status) {
    if (finished.compareAndSet(false, true)) {
      cancelTimer();
      ExecExit exit = ExecExit.newBuilder().setExitCode(status).setTimedOut(timedOut.get())
          .setOutputTruncated(truncated.get())
          .setDurationMs((System.nanoTime() - startNanos) / 1_000_000).build();
      synchronized (out) {
        out.onNext(ExecResponse.newBuilder().setExit(exit).build());
        out.onCompleted();
      }
    }
  }

  // The guest's channel belongs to the VM's VMM: its failure is the hypervisor's, not the node's.
  private static AgentException guestChannelFailed(IOException e) {
    return new AgentException(Code.HYPERVISOR_FAILED, "guest channel failed: " + e.getMessage(), e);
  }

  private void fail(RuntimeException failure) {
    if (finished.compareAndSet(false, true)) {
      kill();
      cancelTimer();
      synchronized (out) {
        out.onError(GrpcErrors.toStatus(failure));
      }
    }
  }

  @Override
  public void onError(Throwable t) {
    if (finished.compareAndSet(false, true)) {
      kill();
      cancelTimer();
    }
  }

  @Override
  public void onCompleted() {
    // The client half-closing means no more input; the command keeps running until it exits.
  }

  private final class Sink implements ExecSink {
    @Override
    public void onStdout(byte[] data) {
      emit(data, true);
    }

    @Override
    public void onStderr(byte[] data) {
      emit(data, false);
    }

    private void emit(byte[] data, boolean stdout) {
      if (finished.get() || truncated.get()) {
        return;
      }
      long total = outputBytes.addAndGet(data.length);
      int allowed = data.length;
      if (total > maxOutput) {
        allowed = (int) Math.max(0, data.length - (total - maxOutput));
        truncated.set(true);
        killThenEnd();
      }
      if (allowed > 0) {
        ByteString bytes = ByteString.copyFrom(data, 0, allowed);
        ExecResponse r = stdout ? ExecResponse.newBuilder().setStdout(bytes).build()
            : ExecResponse.newBuilder().setStderr(bytes).build();
        synchronized (out) {
          if (!finished.get()) {
            if (!out.isReady() && unread.addAndGet(allowed) > MAX_UNREAD_BYTES) {
              fail(new AgentException(Code.NO_CAPACITY, "the caller did not read "
                  + MAX_UNREAD_BYTES + " bytes of output; exec killed"));
              return;
            }
            out.onNext(r);
          }
        }
      }
    }

    @Override
    public void onExit(int status) {
      finish(status);
    }

    @Override
    public void onFailure(String message) {
      fail(new AgentException(Code.HYPERVISOR_FAILED, "exec failed in the guest: " + message));
    }
  }
}
