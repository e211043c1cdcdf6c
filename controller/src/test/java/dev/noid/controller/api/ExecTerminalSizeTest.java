package dev.noid.controller.api;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.ExecStart;
import dev.noid.api.v1.TerminalSize;
import dev.noid.client.NoidClient;
import dev.noid.controller.users.Principal;
import io.grpc.inprocess.InProcessChannelBuilder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
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
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(30),
        Map.of("node-a", 4096L))) {
      String token = c.users.add("alice", "user").token();
      c.create(new Principal("alice", false),
          CreateVmRequest.newBuilder().setName("web").setCpus(1).setMemMib(256).build());
      try (NoidClient noid = NoidClient.builder().token(token)
          .channel(InProcessChannelBuilder.forName(c.name()).build()).build()) {
        noid.exec(ExecStart.newBuilder().setVm("web").addCommand("top").setTty(true).build());
        noid.exec(ExecStart.newBuilder().setVm("web").addCommand("top").setTty(true)
            .setTerminalSize(TerminalSize.newBuilder().setRows(50).setColumns(132)).build());
      }
      var starts = c.agents.get("node-a").execStarts();
      assertThat(starts).hasSize(2);
      assertThat(starts.get(0).hasTerminalSize()).as("none given, none sent").isFalse();
      assertThat(starts.get(1).getTerminalSize().getRows()).isEqualTo(50);
      assertThat(starts.get(1).getTerminalSize().getColumns()).isEqualTo(132);
    }
  }
}
