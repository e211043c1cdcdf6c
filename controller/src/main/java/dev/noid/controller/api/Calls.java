package dev.noid.controller.api;

import io.grpc.stub.StreamObserver;
import java.util.function.Supplier;

/** Runs a unary call's work and answers with its result or its mapped failure. */
public final class Calls {
  private Calls() {}

  public static <T> void unary(StreamObserver<T> out, Supplier<T> work) {
    T result;
    try {
      result = work.get();
    } catch (RuntimeException e) {
      out.onError(GrpcStatusMapper.toStatus(e));
      return;
    }
    out.onNext(result);
    out.onCompleted();
  }
}
