package dev.noid.agent.archive;

import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;

/** Waiting for the archive's parallel chunk reads and writes, failures as AgentExceptions. */
final class ArchiveWork {
  private ArchiveWork() {}

  static <T> T await(Future<T> f) {
    try {
      return f.get();
    } catch (ExecutionException e) {
      throw e.getCause() instanceof RuntimeException re ? re
          : new AgentException(Code.INTERNAL, String.valueOf(e.getCause()), e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AgentException(Code.INTERNAL, "interrupted", e);
    }
  }

  // Every one finished (none left writing) before the first failure is thrown.
  static void awaitAll(List<Future<?>> work) {
    RuntimeException first = null;
    for (Future<?> f : work) {
      try {
        await(f);
      } catch (RuntimeException e) {
        if (first == null) {
          first = e;
        }
        if (Thread.currentThread().isInterrupted()) {
          throw e;
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }
}
