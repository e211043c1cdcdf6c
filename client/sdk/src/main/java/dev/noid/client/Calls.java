package dev.noid.client;

import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.MoreExecutors;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import java.util.function.Supplier;

/** How {@link NoidClient}'s unary calls end: gRPC failures as {@link NoidException}s. */
final class Calls {
  private Calls() {}

  static <T> T call(Supplier<T> work) {
    try {
      return work.get();
    } catch (RuntimeException e) {
      if (NoidException.isGrpc(e)) {
        throw NoidException.from(e);
      }
      throw e;
    }
  }

  static <A, B> CompletableFuture<B> async(ListenableFuture<A> f, Function<A, B> map) {
    CompletableFuture<B> out = new CompletableFuture<>();
    Futures.addCallback(f, new FutureCallback<A>() {
      @Override
      public void onSuccess(A result) {
        out.complete(map.apply(result));
      }

      @Override
      public void onFailure(Throwable t) {
        out.completeExceptionally(NoidException.from(t));
      }
    }, MoreExecutors.directExecutor());
    return out;
  }

  /**
   * Every item of a paged list: {@code page} fetches the page of a token ("" for the first),
   * until a page names no next one.
   */
  static <P, T> List<T> allPages(Function<String, P> page, Function<P, List<T>> items,
      Function<P, String> next) {
    List<T> all = new ArrayList<>();
    String token = "";
    do {
      String t = token;
      P p = call(() -> page.apply(t));
      all.addAll(items.apply(p));
      token = next.apply(p);
    } while (!token.isEmpty());
    return all;
  }
}
