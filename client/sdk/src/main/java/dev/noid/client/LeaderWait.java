package dev.noid.client;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
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
 * stream counts as taken once gRPC has it on a controller's connection (its first onReady), or
 * once anything comes back.
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
    ClientCall<Q, R> call = next.newCall(method, options);
    return BOUNDED.contains(method.getFullMethodName()) ? new Bounded<>(call) : call;
  }

  private String reason() {
    double seconds = max.toMillis() / 1000.0;
    String shown = seconds == Math.rint(seconds)
        ? Long.toString((long) seconds) : Double.toString(seconds);
    return "no controller leads among " + controllers.replace(",", ", ") + " (waited " + shown
        + " s): is any of them running?";
  }

  private final class Bounded<Q, R> extends ForwardingClientCall.SimpleForwardingClientCall<Q, R> {
    private static final int WAITING = 0;
    private static final int TAKEN = 1;
    private static final int GAVE_UP = 2;
    private final AtomicInteger state = new AtomicInteger(WAITING);
    private volatile ScheduledFuture<?> alarm;

    Bounded(ClientCall<Q, R> call) {
      super(call);
    }

    @Override
    public void start(Listener<R> listener, Metadata headers) {
      alarm = ALARMS.schedule(this::giveUp, max.toNanos(), TimeUnit.NANOSECONDS);
      super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
        @Override
        public void onReady() {
          taken();
          super.onReady();
        }

        @Override
        public void onHeaders(Metadata h) {
          taken();
          super.onHeaders(h);
        }

        @Override
        public void onMessage(R message) {
          taken();
          super.onMessage(message);
        }

        @Override
        public void onClose(Status status, Metadata trailers) {
          if (state.get() == GAVE_UP && status.getCode() == Status.Code.CANCELLED) {
            status = Status.UNAVAILABLE.withDescription(reason());
          } else {
            taken();
          }
          super.onClose(status, trailers);
        }
      }, headers);
    }

    private void taken() {
      if (state.compareAndSet(WAITING, TAKEN)) {
        ScheduledFuture<?> a = alarm;
        if (a != null) {
          a.cancel(false);
        }
      }
    }

    private void giveUp() {
      if (state.compareAndSet(WAITING, GAVE_UP)) {
        delegate().cancel(reason(), null);
      }
    }
  }
}
