package dev.noid.common.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.Test;

/** Each request of the stream is answered as its unary method answers it, stamped with its number. */
class UnaryPerMessageTest {
  /** What the server sent back on the stream. */
  static final class Sent implements StreamObserver<String> {
    final List<String> answers = new ArrayList<>();
    Throwable error;
    int completed;

    @Override
    public void onNext(String value) {
      answers.add(value);
    }

    @Override
    public void onError(Throwable t) {
      error = t;
    }

    @Override
    public void onCompleted() {
      completed++;
    }
  }

  private final Sent sent = new Sent();
  // Unary answers held back until released, as a slow hypervisor would hold them.
  private final Map<Integer, StreamObserver<String>> held = new HashMap<>();

  private StreamObserver<Integer> serve(BiConsumer<Integer, StreamObserver<String>> unary) {
    return UnaryPerMessage.serve(sent, unary, (n, answer) -> n + ":" + answer);
  }

  private void answer(int n, String what) {
    held.get(n).onNext(what);
    held.get(n).onCompleted();
  }

  @Test
  void answersComeBackStampedAsEachFinishesAndTheStreamEndsAfterTheLastOnceHalfClosed() {
    StreamObserver<Integer> requests = serve(held::put);

    requests.onNext(1);
    requests.onNext(2);
    requests.onCompleted();
    answer(2, "two");
    assertThat(sent.completed).isZero();
    answer(1, "one");

    assertThat(sent.answers).containsExactly("2:two", "1:one");
    assertThat(sent.completed).isEqualTo(1);
    assertThat(sent.error).isNull();
  }

  @Test
  void aUnaryFailureEndsTheStreamWithItsStatusAndLaterAnswersAreDropped() {
    StreamObserver<Integer> requests = serve(held::put);
    requests.onNext(1);
    requests.onNext(2);

    held.get(1).onError(Status.INVALID_ARGUMENT.withDescription("creates: at most 1000").asRuntimeException());
    answer(2, "two");
    requests.onNext(3);
    requests.onCompleted();

    assertThat(Status.fromThrowable(sent.error).getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(Status.fromThrowable(sent.error).getDescription()).isEqualTo("creates: at most 1000");
    assertThat(sent.answers).isEmpty();
    assertThat(sent.completed).isZero();
    assertThat(held).doesNotContainKey(3);
  }

  @Test
  void afterTheClientWentAwayNothingMoreIsSent() {
    StreamObserver<Integer> requests = serve(held::put);
    requests.onNext(1);

    requests.onError(Status.CANCELLED.asRuntimeException());
    answer(1, "one");

    assertThat(sent.answers).isEmpty();
    assertThat(sent.completed).isZero();
    assertThat(sent.error).isNull();
  }
}
