package dev.noid.agent.network;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AssignedSubnetTest {
  @TempDir
  Path dir;

  /**
   * Issue 19, M6: a write in place truncates the node's only record of its subnet first, so a
   * crash mid-write leaves it empty. A hard link taken before the rewrite sees the same inode:
   * if the file is rewritten in place, the link shows the new (or a torn) content; if it is
   * replaced, the link keeps the whole old one.
   */
  @Test
  void aRewriteReplacesTheFileInsteadOfTruncatingItInPlace() throws Exception {
    AssignedSubnet.write(dir, "10.20.0.0/24");
    Path observer = dir.resolve("observer");
    Files.createLink(observer, dir.resolve("assigned-subnet"));

    AssignedSubnet.write(dir, "10.30.0.0/24");

    assertThat(Files.readString(observer)).isEqualTo("10.20.0.0/24\n");
    assertThat(AssignedSubnet.read(dir)).hasToString("10.30.0.0/24");
    try (var files = Files.list(dir)) {
      assertThat(files.map(p -> p.getFileName().toString()))
          .containsExactlyInAnyOrder("assigned-subnet", "observer");
    }
  }
}
