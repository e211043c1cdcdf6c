package dev.noid.agent.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class SmapsRollupTest {
  // As Linux 6.1 prints it (Pss_Dirty and the like vary by kernel; unknown fields are skipped).
  private static final String SAMPLE = """
      55d0c0a00000-7ffd2a5fe000 ---p 00000000 00:00 0                          [rollup]
      Rss:              140256 kB
      Pss:               61234 kB
      Pss_Dirty:         40000 kB
      Pss_Anon:          39000 kB
      Shared_Clean:      90112 kB
      Shared_Dirty:          0 kB
      Private_Clean:      1024 kB
      Private_Dirty:     49120 kB
      Referenced:       140256 kB
      Anonymous:         49000 kB
      Swap:                  0 kB
      SwapPss:               0 kB
      Locked:                0 kB
      """;

  @Test
  void readsRssPssAndPrivate() {
    SmapsRollup s = SmapsRollup.parse(SAMPLE);
    assertEquals(140256, s.rssKib());
    assertEquals(61234, s.pssKib());
    assertEquals(1024, s.privateCleanKib());
    assertEquals(49120, s.privateDirtyKib());
    assertEquals(50144, s.privateKib());
  }

  @Test
  void refusesATextWithoutTheFields() {
    assertThrows(IllegalArgumentException.class, () -> SmapsRollup.parse("Rss: 1 kB\n"));
  }

  @Test
  void readsThisProcess() throws Exception {
    SmapsRollup s = SmapsRollup.of(ProcessHandle.current().pid());
    assertEquals(true, s.rssKib() > 0 && s.pssKib() <= s.rssKib());
  }
}
