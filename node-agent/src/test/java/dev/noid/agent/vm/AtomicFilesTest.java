package dev.noid.agent.vm;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFilesTest {
  @TempDir
  Path dir;

  @Test
  void aWriteReplacesTheTargetsInodeAndLeavesNoTemporaryFile() throws Exception {
    Path file = dir.resolve("vm.json");
    AtomicFiles.writeString(file, "old");
    Path link = dir.resolve("link");
    Files.createLink(link, file);

    AtomicFiles.writeString(file, "new");

    assertThat(Files.readString(file)).isEqualTo("new");
    assertThat(Files.readString(link)).as("the old inode is untouched").isEqualTo("old");
    assertThat(dir.resolve("vm.json.tmp")).doesNotExist();
  }

  @Test
  void syncingATreeKeepsItsFilesAsTheyAre() throws Exception {
    Path cp = Files.createDirectory(dir.resolve("cp.partial"));
    Files.writeString(cp.resolve("a"), "1");
    Files.createDirectory(cp.resolve("sub"));

    AtomicFiles.syncTree(cp);

    assertThat(Files.readString(cp.resolve("a"))).isEqualTo("1");
    assertThat(cp.resolve("sub")).isDirectory();
  }
}
