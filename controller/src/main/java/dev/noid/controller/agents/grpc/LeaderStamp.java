package dev.noid.controller.agents.grpc;

import dev.noid.common.grpc.ControllerEpochHeaders;
import dev.noid.controller.ha.Leadership;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;

/**
 * The controller's half of fencing agents (issue 22): every call to an agent carries the epoch
 * this leader was elected at, so that agents refuse a leader that lost the lead. A controller
 * that may no longer lead by its own clock (its lease not renewed in time, a process that woke
 * from a pause) makes no call at all; an agent's refusal naming a newer epoch is passed to
 * {@link Leadership#outranked}.
 */
public final class LeaderStamp implements ClientInterceptor {
  private final Leadership leadership;
  private final String epoch;

  /** Stamps {@code leadership}'s epoch as it is now: a leader's graph lives for one epoch. */
  public LeaderStamp(Leadership leadership) {
    this.leadership = leadership;
    this.epoch = Long.toString(leadership.view().epoch());
  }

  @Override
  public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method,
      CallOptions options, Channel next) {
    if (!leadership.mayAct()) {
      return new RefusedCall<>(options.getExecutor(),
          Status.UNAVAILABLE.withDescription(noLonger()));
    }
    return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
      // Once the stamp cancelled the call its caller may still use it (half-close a unary
      // call, send the next batch); gRPC would throw for that, so those go nowhere.
      private volatile boolean cancelled;

      @Override
      public void start(Listener<R> listener, Metadata headers) {
        headers.put(ControllerEpochHeaders.EPOCH, epoch);
        super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(
            listener) {
          @Override
          public void onClose(Status status, Metadata trailers) {
            try {
              String newest = trailers.get(ControllerEpochHeaders.NEWEST);
              if (status.getCode() == Status.Code.FAILED_PRECONDITION && newest != null) {
                outranked(newest);
              }
            } finally {
              super.onClose(status, trailers);
            }
          }
        }, headers);
      }

      // A stream outlives its start (the create stream to each node, an exec): every message
      // is checked again, and a leader that may no longer lead ends the stream instead.
      @Override
      public void sendMessage(Q message) {
        if (!cancelled && !leadership.mayAct()) {
          cancelled = true;
          cancel(noLonger(), null);
        }
        if (!cancelled) {
          super.sendMessage(message);
        }
      }

      @Override
      public void halfClose() {
        if (!cancelled) {
          super.halfClose();
        }
      }

      @Override
      public void request(int numMessages) {
        if (!cancelled) {
          super.request(numMessages);
        }
      }
    };
  }

  private String noLonger() {
    return "controller " + leadership.ownAddress() + " may no longer lead (epoch " + epoch
        + "): it makes no more calls to agents";
  }

  private void outranked(String newest) {
    try {
      leadership.outranked(Long.parseLong(newest));
    } catch (RuntimeException e) {
      // Not a number (not an agent of ours), or the controller is stopping: the refusal
      // reaches the caller as it is.
    }
  }

  /** A call refused before it reaches the network; its listener hears only the refusal. */
  private static final class RefusedCall<Q, R> extends ClientCall<Q, R> {
    private final java.util.concurrent.Executor executor;
    private final Status status;

    RefusedCall(java.util.concurrent.Executor executor, Status status) {
      this.executor = executor;
      this.status = status;
    }

    @Override
    public void start(Listener<R> listener, Metadata headers) {
      // Never from inside start(), which callers do not expect (a direct executor would run
      // it here): from a thread of its own, through the call's executor when it has one (a
      // blocking stub waits for its callbacks there).
      Runnable close = () -> listener.onClose(status, new Metadata());
      Thread.startVirtualThread(executor == null ? close : () -> executor.execute(close));
    }

    @Override
    public boolean isReady() {
      return false;
    }

    @Override
    public void request(int numMessages) {}

    @Override
    public void cancel(String message, Throwable cause) {}

    @Override
    public void halfClose() {}

    @Override
    public void sendMessage(Q message) {}
  }
}
