package dev.noid.controller.api;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.api.v1.ExecStart;
import dev.noid.api.v1.TerminalSize;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A terminal exec's size reaches the node only when the caller gave one: the guest's pty then
 * keeps its 24x80 (guest-protocol.md). Before, the controller always sent one, 0x0 when the
 * caller sent none, and full-screen programs in the guest saw a terminal of no size.
 */
class ExecTerminalSizeTest {
  @TempDir Path dir;

  @Test
  void aTerminalSizeGoesToTheNodeOnlyWhenTheCallerGaveOne() throws Exception {
    InProcessController.withAlicesVm(dir, (c, noid) -> {
      noid.exec(ExecStart.newBuilder().setVm("web").addCommand("top").setTty(true).build());
      noid.exec(ExecStart.newBuilder().setVm("web").addCommand("top").setTty(true)
          .setTerminalSize(TerminalSize.newBuilder().setRows(50).setColumns(132)).build());

      var starts = c.agents.get("node-a").execStarts();
      assertThat(starts).hasSize(2);
      assertThat(starts.get(0).hasTerminalSize()).as("none given, none sent").isFalse();
      assertThat(starts.get(1).getTerminalSize().getRows()).isEqualTo(50);
      assertThat(starts.get(1).getTerminalSize().getColumns()).isEqualTo(132);
    });
  }
}
