package dev.noid.client;

import io.grpc.Attributes;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ClientStreamTracer;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * With several controllers, the interactive streams (exec, console, image import) wait for a
 * leader as every other call does, but not for good: they have no deadline to end the wait.
 * One that no controller has taken within {@code max} ends UNAVAILABLE, naming the wait. A
 * stream counts as taken once gRPC has created it on a controller's connection.
 */
final class LeaderWait implements ClientInterceptor {
  static final Set<String> BOUNDED = Set.of(
      "noid.v1.VmService/ExecCommand", "noid.v1.VmService/AttachConsole",
      "noid.v1.ImageService/ImportImage");
  private static final ScheduledThreadPoolExecutor ALARMS = alarms();

  private final Duration max;
  private final String controllers;

  LeaderWait(Duration max, String controllers) {
    if (max.isNegative() || max.isZero()) {
      throw new IllegalArgumentException("leader wait must be positive; got " + max);
    }
    this.max = max;
    this.controllers = controllers;
  }

  private static ScheduledThreadPoolExecutor alarms() {
    ScheduledThreadPoolExecutor e = new ScheduledThreadPoolExecutor(1, r -> {
      Thread t = new Thread(r, "noid-leader-wait");
      t.setDaemon(true);
      return t;
    });
    // Nearly every alarm is cancelled within milliseconds: drop them instead of holding each
    // for the whole wait.
    e.setRemoveOnCancelPolicy(true);
    return e;
  }

  @Override
  public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method,
      CallOptions options, Channel next) {
    if (!BOUNDED.contains(method.getFullMethodName())) {
      return next.newCall(method, options);
    }
    Wait wait = new Wait();
    return new Bounded<>(next.newCall(method, options.withStreamTracerFactory(wait)), wait);
  }

  private String reason() {
    double seconds = max.toMillis() / 1000.0;
    String shown = seconds == Math.rint(seconds)
        ? Long.toString((long) seconds) : Double.toString(seconds);
    return "no controller leads among " + controllers.replace(",", ", ") + " (waited " + shown
        + " s): is any of them running?";
  }

  /**
   * One call's wait. gRPC makes a tracer for each attempt and tells it when the attempt's
   * stream is created on a connection: that is the call taken. (Not onReady: a stream with
   * over 32 KiB of input queued is not ready when it is created, and may stay so for as long
   * as a slow command reads its stdin.)
   */
  private final class Wait extends ClientStreamTracer.Factory {
    private static final int WAITING = 0;
    private static final int TAKEN = 1;
    private static final int GAVE_UP = 2;
    private final AtomicInteger state = new AtomicInteger(WAITING);
    /** Held by the caller's sends and by the give-up's state change, never while gRPC calls us. */
    final Object sends = new Object();
    private final AtomicInteger armings = new AtomicInteger();
    private volatile ScheduledFuture<?> alarm;
    private volatile Runnable onGiveUp;

    void start(Runnable giveUp) {
      onGiveUp = giveUp;
      arm();
    }

    private void arm() {
      int arming = armings.incrementAndGet();
      alarm = ALARMS.schedule(() -> giveUp(arming), max.toNanos(), TimeUnit.NANOSECONDS);
    }

    @Override
    public ClientStreamTracer newClientStreamTracer(ClientStreamTracer.StreamInfo info,
        Metadata headers) {
      // A transparent retry (a controller that refused the stream as it stopped) waits for a
      // controller again, and again not for good.
      if (info.isTransparentRetry() && state.compareAndSet(TAKEN, WAITING)) {
        arm();
      }
      return new ClientStreamTracer() {
        @Override
        public void streamCreated(Attributes transportAttrs, Metadata h) {
          taken();
        }
      };
    }

    void taken() {
      ScheduledFuture<?> a = alarm;
      if (state.compareAndSet(WAITING, TAKEN) && a != null) {
        a.cancel(false);
      }
    }

    // An alarm of an earlier arming (before a transparent retry) does nothing.
    private void giveUp(int arming) {
      synchronized (sends) {
        if (arming != armings.get() || !state.compareAndSet(WAITING, GAVE_UP)) {
          return;
        }
      }
      onGiveUp.run();
    }

    boolean gaveUp() {
      return state.get() == GAVE_UP;
    }
  }

  /**
   * The call, cancelled by its wait's alarm. What the caller sends after that is dropped (gRPC
   * refuses a send on a cancelled call with an IllegalStateException); the caller learns of the
   * end from onClose, UNAVAILABLE with the reason.
   */
  private final class Bounded<Q, R> extends ForwardingClientCall.SimpleForwardingClientCall<Q, R> {
    private final Wait wait;

    Bounded(ClientCall<Q, R> call, Wait wait) {
      super(call);
      this.wait = wait;
    }

    @Override
    public void start(Listener<R> listener, Metadata headers) {
      wait.start(() -> delegate().cancel(reason(), null));
      super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
        @Override
        public void onClose(Status status, Metadata trailers) {
          if (wait.gaveUp() && status.getCode() == Status.Code.CANCELLED) {
            status = Status.UNAVAILABLE.withDescription(reason());
          } else {
            wait.taken();
          }
          super.onClose(status, trailers);
        }
      }, headers);
    }

    @Override
    public void sendMessage(Q message) {
      synchronized (wait.sends) {
        if (!wait.gaveUp()) {
          super.sendMessage(message);
        }
      }
    }

    @Override
    public void halfClose() {
      synchronized (wait.sends) {
        if (!wait.gaveUp()) {
          super.halfClose();
        }
      }
    }
  }
}
