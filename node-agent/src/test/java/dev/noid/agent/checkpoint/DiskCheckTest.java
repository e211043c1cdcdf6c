package dev.noid.agent.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.noid.agent.vm.AgentException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DiskCheckTest {
  @TempDir Path dir;

  @Test
  void refusesWhenNeedPlusReserveExceedsFree() {
    DiskCheck check = new DiskCheck("n1", 100, p -> 1000);
    check.require(dir, 900);
    AgentException e = assertThrows(AgentException.class, () -> check.require(dir, 901));
    assertEquals(AgentException.Code.DISK_FULL, e.code());
    assertEquals("not enough disk on node n1: need 901, free 1000 (reserve 100)", e.getMessage());
  }

  @Test
  void realFileStoreRefusesMoreThanTheDiskHolds() throws Exception {
    DiskCheck check = DiskCheck.ofFileStore("n1", 0);
    long free = Files.getFileStore(dir).getUsableSpace();
    assertThrows(AgentException.class, () -> check.require(dir, free + (1L << 40)));
    check.require(dir, 1);
  }
}
