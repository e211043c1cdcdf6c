package dev.noid.controller.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Issue 19 H4: the relay reads the user's next message only once the agent can take one, so a
 * user writing faster than the guest reads is held back by gRPC flow control instead of
 * filling the controller. The two calls are stand-ins that record what the relay asks of them.
 */
class StreamProxyFlowTest {
  /** The user's side of the call: counts the messages the relay asked the user for. */
  static final class FakeUserCall extends ServerCallStreamObserver<String> {
    int requested;
    boolean autoRequest = true;
    final List<String> sent = new ArrayList<>();

    @Override public boolean isCancelled() { return false; }
    @Override public void setOnCancelHandler(Runnable r) { }
    @Override public void setCompression(String c) { }
    @Override public boolean isReady() { return true; }
    @Override public void setOnReadyHandler(Runnable r) { }
    @Override public void disableAutoInboundFlowControl() { autoRequest = false; }
    @Override public void disableAutoRequest() { autoRequest = false; }
    @Override public void request(int n) { requested += n; }
    @Override public void setMessageCompression(boolean e) { }
    @Override public void onNext(String v) { sent.add(v); }
    @Override public void onError(Throwable t) { }
    @Override public void onCompleted() { }
  }

  /** The agent's side: ready or not as the test says, and its ready handler to call. */
  static final class FakeAgentCall extends ClientCallStreamObserver<String> {
    boolean ready;
    String cancelled;
    Runnable onReady = () -> { };

    @Override public void cancel(String m, Throwable c) { cancelled = m; }
    @Override public boolean isReady() { return ready; }
    @Override public void setOnReadyHandler(Runnable r) { onReady = r; }
    @Override public void disableAutoInboundFlowControl() { }
    @Override public void disableAutoRequestWithInitial(int n) { }
    @Override public void request(int n) { }
    @Override public void setMessageCompression(boolean e) { }
    @Override public void onNext(String v) { }
    @Override public void onError(Throwable t) { }
    @Override public void onCompleted() { }
  }

  @Test
  void theNextInputIsReadOnlyWhenTheAgentCanTakeIt() {
    FakeUserCall user = new FakeUserCall();
    StreamProxy<String, String, String> proxy = new StreamProxy<>(user, s -> s);
    assertThat(user.autoRequest).as("input is read on demand, not as fast as it comes").isFalse();
    assertThat(user.requested).as("the first message: what to attach to").isEqualTo(1);

    FakeAgentCall agent = new FakeAgentCall();
    proxy.beforeStart(agent);
    proxy.nextInput(); // relayed the first message; the agent's call is not ready yet
    assertThat(user.requested).isEqualTo(1);

    agent.ready = true;
    agent.onReady.run();
    assertThat(user.requested).isEqualTo(2);
    agent.onReady.run();
    assertThat(user.requested).as("one read per message relayed, not per ready signal").isEqualTo(2);

    agent.ready = false;
    proxy.nextInput(); // the guest stopped taking input
    agent.onReady.run();
    assertThat(user.requested).isEqualTo(2);
    agent.ready = true;
    agent.onReady.run();
    assertThat(user.requested).isEqualTo(3);
  }

  /**
   * A token rotation ends the relay (fail) between the user's start passing its checks and the
   * agent call being made: the agent call then started the command anyway, with no caller and
   * outside the user's stream limit, until its own timeout.
   */
  @Test
  void anAgentCallMadeAfterTheRelayEndedIsCancelledAtOnce() {
    FakeUserCall user = new FakeUserCall();
    StreamProxy<String, String, String> proxy = new StreamProxy<>(user, s -> s);
    proxy.fail(io.grpc.Status.UNAUTHENTICATED.withDescription("token rotated"));

    FakeAgentCall agent = new FakeAgentCall();
    proxy.beforeStart(agent);

    assertThat(agent.cancelled).isEqualTo("token rotated");
    assertThat(proxy.ended()).isTrue();
  }
}
