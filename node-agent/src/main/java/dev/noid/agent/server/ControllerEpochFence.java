package dev.noid.agent.server;

import dev.noid.common.grpc.ControllerEpochHeaders;
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
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(
        next.startCall(call, headers)) {
      private boolean refused;

      @Override
      public void onMessage(Q message) {
        long now = floor.newest();
        if (!refused && epoch < now) {
          refused = true;
          call.close(refusal(epoch, now), outranked(now));
        }
        if (!refused) {
          super.onMessage(message);
        }
      }
    };
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
