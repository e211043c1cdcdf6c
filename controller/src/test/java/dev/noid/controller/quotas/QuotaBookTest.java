package dev.noid.controller.quotas;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.noid.controller.domain.NoidException;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

class QuotaBookTest {
  private static QuotaLimits limits(long vms, long vcpus, long mem, long cps, long bytes) {
    return new QuotaLimits(OptionalLong.of(vms), OptionalLong.of(vcpus), OptionalLong.of(mem),
        OptionalLong.of(cps), OptionalLong.of(bytes));
  }

  @Test
  void exceedingVcpusIsRefusedNamingTheQuota() {
    QuotaBook book = new QuotaBook();
    book.setLimits("alice", limits(100, 10, 1 << 20, 100, 1L << 40));
    book.reserve("alice", Usage.ofVm(8, 512));
    NoidException e = assertThrows(NoidException.class,
        () -> book.reserve("alice", Usage.ofVm(4, 512)));
    assertEquals(NoidException.Code.QUOTA_EXCEEDED, e.code());
    assertEquals("quota vcpus exceeded: 8 used + 4 requested > 10", e.getMessage());
    assertEquals(new Usage(1, 8, 512, 0, 0), book.used("alice"));
  }

  @Test
  void eachQuotaIsEnforced() {
    QuotaBook book = new QuotaBook();
    book.setLimits("u", limits(1, 100, 1024, 1, 1000));
    book.reserve("u", Usage.ofVm(1, 512));
    assertEquals("quota vms exceeded: 1 used + 1 requested > 1",
        assertThrows(NoidException.class, () -> book.reserve("u", Usage.ofVm(1, 1))).getMessage());
    book.setLimits("v", limits(10, 100, 1024, 10, 1000));
    assertEquals("quota memory_mib exceeded: 0 used + 2048 requested > 1024",
        assertThrows(NoidException.class, () -> book.reserve("v", Usage.ofVm(1, 2048)))
            .getMessage());
    book.reserve("u", Usage.ofCheckpoint(10));
    assertEquals("quota checkpoints exceeded: 1 used + 1 requested > 1",
        assertThrows(NoidException.class, () -> book.reserve("u", Usage.ofCheckpoint(1)))
            .getMessage());
    assertEquals("quota checkpoint_bytes exceeded: 0 used + 1001 requested > 1000",
        assertThrows(NoidException.class, () -> book.reserve("v", Usage.ofCheckpoint(1001)))
            .getMessage());
  }

  @Test
  void releaseGivesRoomBackAndUnsetIsUnlimited() {
    QuotaBook book = new QuotaBook();
    book.reserve("free", Usage.ofVm(1000, 1 << 30));
    book.setLimits("u", limits(1, 10, 1024, 1, 1000));
    book.reserve("u", Usage.ofVm(2, 512));
    book.release("u", Usage.ofVm(2, 512));
    book.reserve("u", Usage.ofVm(2, 512));
    assertEquals(new Usage(1, 2, 512, 0, 0), book.used("u"));
  }

  @Test
  void parallelReservationsNeverPassTheLimit() throws Exception {
    QuotaBook book = new QuotaBook();
    book.setLimits("u", limits(5, 1000, 1 << 20, 10, 1000));
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<Callable<Boolean>> tasks = new ArrayList<>();
      for (int i = 0; i < 50; i++) {
        tasks.add(() -> {
          try {
            book.reserve("u", Usage.ofVm(1, 1));
            return true;
          } catch (NoidException e) {
            return false;
          }
        });
      }
      int ok = 0;
      for (Future<Boolean> f : pool.invokeAll(tasks)) {
        ok += f.get() ? 1 : 0;
      }
      assertEquals(5, ok);
      assertEquals(5, book.used("u").vms());
    } finally {
      pool.shutdownNow();
    }
  }
}
