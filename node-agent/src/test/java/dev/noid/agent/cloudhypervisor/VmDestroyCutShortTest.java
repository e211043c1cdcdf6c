package dev.noid.agent.cloudhypervisor;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.agent.vm.ImmutableFiles;
import dev.noid.agent.vm.NodeCapacity;
import dev.noid.agent.vm.NodeLimits;
import dev.noid.agent.vm.VmManager;
import dev.noid.agent.vm.VmState;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A destroy that cannot finish deleting the VM's files (a killed agent, a file that will not go).
 * Before, the directory was deleted in place: a kill left a VM directory with its spec but not
 * its disk, which the next start adopted as a DEAD VM that a start booted without a disk; a file
 * that would not go left the VM's record in the table, so its name stayed taken.
 */
@Timeout(120)
class VmDestroyCutShortTest {
  @TempDir Path tmp;
  private VmManager vms;

  @AfterEach
  void destroyAll() throws Exception {
    unlockAll();
    if (vms != null) {
      vms.list().forEach(r -> vms.destroy(r.id()));
    }
  }

  private VmManager manager() throws Exception {
    VmManager m = FakeChVms.manager(tmp, new NodeCapacity(new NodeLimits(4, 4096)));
    m.adoptAll();
    return m;
  }

  private List<String> vmsDir() throws Exception {
    try (Stream<Path> s = Files.list(tmp.resolve("vms"))) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  private void unlockAll() throws Exception {
    ImmutableFiles.unlockAll(tmp.resolve("vms"));
  }

  @Test
  void aVmWhoseFilesCannotAllBeDeletedIsDestroyedAndItsNameIsFree() throws Exception {
    vms = manager();
    vms.create(FakeChVms.spec("web", 256), null);
    Path stuck = Files.writeString(tmp.resolve("vms/web/stuck"), "cannot go");
    Assumptions.assumeTrue(ImmutableFiles.lock(stuck), "this filesystem has no immutable attribute");

    vms.destroy("web");

    assertThat(vms.list()).isEmpty();
    assertThat(vmsDir()).singleElement().asString().startsWith(".destroying-web-");
    assertThat(vms.create(FakeChVms.spec("web", 256), null).state()).isEqualTo(VmState.RUNNING);

    // At the next start, what was left of the destroyed VM goes, and the new web stays.
    unlockAll();
    vms.close();
    vms = manager();
    assertThat(vmsDir()).containsExactly("web");
    assertThat(vms.status("web").state()).isEqualTo(VmState.RUNNING);
  }

  @Test
  void whatADestroyCutShortLeftIsNotAdoptedAndGoesAtTheNextStart() throws Exception {
    vms = manager();
    vms.create(FakeChVms.spec("web", 256), null);
    vms.stop("web");
    vms.close();
    // Where a killed destroy stops: its VMM gone, its directory set aside, its disk deleted.
    Path doomed = Files.move(tmp.resolve("vms/web"), tmp.resolve("vms/.destroying-web-0a1b2c3d"));
    Files.delete(doomed.resolve("disk.img"));

    vms = manager();

    assertThat(vms.list()).isEmpty();
    assertThat(vmsDir()).isEmpty();
  }
}
