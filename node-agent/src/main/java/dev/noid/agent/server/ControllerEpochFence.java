package dev.noid.agent.server;

import dev.noid.common.grpc.ControllerEpochHeaders;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;

/**
 * Refuses calls from a controller that lost the lead (issue 22): the store already refuses a
 * deposed leader's writes, and this refuses what it would do to VMs. A call stamped with an
 * epoch older than the newest this node has heard of is turned away before its handler runs;
 * a newer one raises the floor. Installed on the services only the controller calls.
 */
public final class ControllerEpochFence implements ServerInterceptor {
  private final ControllerEpochFloor floor;

  public ControllerEpochFence(ControllerEpochFloor floor) {
    this.floor = floor;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    String stamped = headers.get(ControllerEpochHeaders.EPOCH);
    long epoch;
    try {
      epoch = stamped == null ? 0 : Long.parseLong(stamped);
    } catch (NumberFormatException e) {
      return refuse(call, Status.INVALID_ARGUMENT.withDescription("header "
          + ControllerEpochHeaders.EPOCH.name() + " must be a decimal epoch, not '" + stamped
          + "'"), new Metadata());
    }
    long newest = floor.newest();
    if (epoch < newest) {
      return refuse(call, refusal(epoch, newest), outranked(newest));
    }
    floor.raise(epoch);
    // A stream lives on after its start (a leader's create stream to this node, an exec): each
    // of its messages is checked again, and a newer epoch ends the stream.
    FencedCall<Q, R> fenced = new FencedCall<>(call);
    return new FencedListener<>(next.startCall(fenced, headers), fenced, epoch);
  }

  /**
   * The call as its handler sees it: once the fence has closed it, the handler's writes (its
   * output, its own close) go nowhere instead of failing ("call is closed") on whichever
   * thread makes them: for an exec, the VM's guest channel reader.
   */
  private static final class FencedCall<Q, R>
      extends ForwardingServerCall.SimpleForwardingServerCall<Q, R> {
    private boolean closed;

    FencedCall(ServerCall<Q, R> call) {
      super(call);
    }

    /** Closes the call for the fence; false when it was already closed. */
    synchronized boolean fence(Status status, Metadata trailers) {
      if (closed) {
        return false;
      }
      closed = true;
      super.close(status, trailers);
      return true;
    }

    @Override
    public synchronized void sendHeaders(Metadata headers) {
      if (!closed) {
        super.sendHeaders(headers);
      }
    }

    @Override
    public synchronized void sendMessage(R message) {
      if (!closed) {
        super.sendMessage(message);
      }
    }

    @Override
    public synchronized void close(Status status, Metadata trailers) {
      if (!closed) {
        closed = true;
        super.close(status, trailers);
      }
    }
  }

  /**
   * Checks each message's epoch. A call the fence closes is cancelled for its handler (gRPC
   * would tell it the call completed), which is what ends an exec's command in the guest;
   * nothing else reaches the handler after that.
   */
  private final class FencedListener<Q, R>
      extends ForwardingServerCallListener.SimpleForwardingServerCallListener<Q> {
    private final FencedCall<Q, R> call;
    private final long epoch;
    private boolean refused;

    FencedListener(ServerCall.Listener<Q> handler, FencedCall<Q, R> call, long epoch) {
      super(handler);
      this.call = call;
      this.epoch = epoch;
    }

    @Override
    public void onMessage(Q message) {
      long now = floor.newest();
      if (!refused && epoch < now) {
        refused = true;
        if (call.fence(refusal(epoch, now), outranked(now))) {
          super.onCancel();
        }
      }
      if (!refused) {
        super.onMessage(message);
      }
    }

    @Override
    public void onHalfClose() {
      if (!refused) {
        super.onHalfClose();
      }
    }

    @Override
    public void onCancel() {
      if (!refused) {
        super.onCancel();
      }
    }

    @Override
    public void onComplete() {
      if (!refused) {
        super.onComplete();
      }
    }

    @Override
    public void onReady() {
      if (!refused) {
        super.onReady();
      }
    }
  }

  private Status refusal(long epoch, long newest) {
    String why = epoch == 0
        ? ": a controller alone, or one older than this agent; if this cluster's controllers"
            + " were replaced by one, delete " + floor.file() + " on this node"
        : ": its controller lost the lead";
    return Status.FAILED_PRECONDITION.withDescription("this node takes calls from controller"
        + " epoch " + newest + " on, and this call came from epoch " + epoch + why);
  }

  private static Metadata outranked(long newest) {
    Metadata trailers = new Metadata();
    trailers.put(ControllerEpochHeaders.NEWEST, Long.toString(newest));
    return trailers;
  }

  private static <Q, R> ServerCall.Listener<Q> refuse(ServerCall<Q, R> call, Status status,
      Metadata trailers) {
    call.close(status, trailers);
    return new ServerCall.Listener<>() {};
  }
}
