package dev.noid.controller.api;

import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;

/**
 * Relays an agent's response stream to the user's call with flow control: the next message is
 * requested from the agent only when the user's side can take one, so a slow client slows
 * the guest's output instead of filling the controller's memory. Cancelling either side
 * cancels the other.
 */
public final class StreamProxy<A, U, Q> implements ClientResponseObserver<Q, A> {
  private final ServerCallStreamObserver<U> user;
  private final Function<A, U> convert;
  private final AtomicBoolean done = new AtomicBoolean();
  private volatile ClientCallStreamObserver<Q> agent;
  private volatile Runnable whenDone = () -> { };
  private final AtomicBoolean wantInput = new AtomicBoolean();
  /** Why {@link #fail} ended the relay: said to an agent call that starts after. */
  private volatile String endedWhy;

  /**
   * Must be made before the service method returns: gRPC accepts the user call's handlers
   * only then, while the agent call starts later (on the first request message).
   */
  public StreamProxy(ServerCallStreamObserver<U> user, Function<A, U> convert) {
    this.user = user;
    this.convert = convert;
    // The user's input is read one message at a time, each only once the agent can take it
    // (issue 19 H4): a client writing faster than the guest reads waits, the controller
    // buffers nothing.
    user.disableAutoRequest();
    user.request(1);
    user.setOnReadyHandler(() -> {
      ClientCallStreamObserver<Q> a = agent;
      if (a != null && !done.get()) {
        a.request(1);
      }
    });
    user.setOnCancelHandler(() -> {
      if (done.compareAndSet(false, true)) {
        ClientCallStreamObserver<Q> a = agent;
        if (a != null) {
          a.cancel("the client went away", null);
        }
        whenDone.run();
      }
    });
  }

  @Override
  public void beforeStart(ClientCallStreamObserver<Q> requestStream) {
    agent = requestStream;
    requestStream.disableAutoRequestWithInitial(1);
    requestStream.setOnReadyHandler(this::moreInput);
    String why = endedWhy;
    if (done.get()) {
      // Ended (a revoked token, the user gone) while the agent call was being made: its fail
      // or cancel found no agent call to cancel, and the command must not start unseen.
      requestStream.cancel(why == null ? "the client went away" : why, null);
    }
  }

  /** Whether the relay has ended: a start not yet sent to the agent must not be. */
  public boolean ended() {
    return done.get();
  }

  /** The caller handled one of the user's messages: the next is read when the agent can take it. */
  public void nextInput() {
    wantInput.set(true);
    moreInput();
  }

  private void moreInput() {
    ClientCallStreamObserver<Q> a = agent;
    if (a != null && a.isReady() && !done.get() && wantInput.compareAndSet(true, false)) {
      user.request(1);
    }
  }

  /** Runs {@code r} once the relay has ended, whichever side ended it (or now, if it has). */
  public void whenDone(Runnable r) {
    whenDone = r;
    if (done.get()) {
      r.run();
    }
  }

  public ClientCallStreamObserver<Q> agentRequests() {
    return agent;
  }

  @Override
  public void onNext(A value) {
    synchronized (user) {
      if (done.get()) {
        return;
      }
      user.onNext(convert.apply(value));
      if (user.isReady()) {
        agent.request(1);
      }
    }
  }

  @Override
  public void onError(Throwable t) {
    if (done.compareAndSet(false, true)) {
      synchronized (user) {
        Status s = Status.fromThrowable(t);
        user.onError(s.getCode() == Status.Code.UNAVAILABLE
            ? s.augmentDescription("the VM's node could not be reached").asRuntimeException()
            : s.asRuntimeException());
      }
      whenDone.run();
    }
  }

  @Override
  public void onCompleted() {
    if (done.compareAndSet(false, true)) {
      synchronized (user) {
        user.onCompleted();
      }
      whenDone.run();
    }
  }

  /** Ends the user's call with {@code status} and cancels the agent side. */
  public void fail(Status status) {
    endedWhy = status.getDescription();
    if (done.compareAndSet(false, true)) {
      ClientCallStreamObserver<Q> a = agent;
      if (a != null) {
        a.cancel(status.getDescription(), null);
      }
      synchronized (user) {
        user.onError(status.asRuntimeException());
      }
      whenDone.run();
    }
  }
}
