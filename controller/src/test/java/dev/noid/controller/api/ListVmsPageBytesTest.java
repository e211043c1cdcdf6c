package dev.noid.controller.api;

import static dev.noid.controller.api.ConcurrentCreateTest.bearer;
import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.CreateVmsRequest;
import dev.noid.api.v1.ListVmsRequest;
import dev.noid.api.v1.ListVmsResponse;
import dev.noid.api.v1.Vm;
import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.client.NoidClient;
import io.grpc.ManagedChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 19 H2: with labels at their limits, 1,000 VMs take about 20 MB, more than a client reads
 * in one message (16 MiB). A ListVms page therefore also ends by size, and the page token
 * resumes after it, so a client can always read every page.
 */
class ListVmsPageBytesTest {
  @TempDir Path dir;

  @Test
  void aPageOfFullyLabelledVmsEndsBeforeItsByteLimitAndTheTokenResumesAfterIt() throws Exception {
    try (InProcessController c = new InProcessController(dir, Duration.ofSeconds(60),
        Map.of("node-a", 300L * 256, "node-b", 300L * 256))) {
      ManagedChannel ch = c.channel();
      var alice = VmServiceGrpc.newBlockingStub(ch)
          .withCallCredentials(bearer(c.users.add("alice", "user").token()));
      CreateVmRequest.Builder template = CreateVmRequest.newBuilder().setName("w").setCpus(1).setMemMib(256);
      for (int k = 0; k < 64; k++) {
        template.putLabels(String.format("%02d", k) + "-" + "a".repeat(60), "v".repeat(256));
      }
      alice.createVms(CreateVmsRequest.newBuilder().setCount(450).setTemplate(template).build());

      List<Vm> seen = new ArrayList<>();
      List<Integer> pageSizes = new ArrayList<>();
      String token = "";
      do {
        ListVmsResponse page = alice.listVms(ListVmsRequest.newBuilder().setPageSize(1000)
            .setPageToken(token).build());
        assertThat(page.getSerializedSize()).isLessThan(NoidClient.MAX_INBOUND_BYTES / 2 + 64 * 1024);
        assertThat(page.getTotalSize()).isEqualTo(450);
        seen.addAll(page.getVmsList());
        pageSizes.add(page.getVmsCount());
        token = page.getNextPageToken();
      } while (!token.isEmpty());

      assertThat(pageSizes).hasSizeGreaterThan(1);
      assertThat(seen).hasSize(450);
      assertThat(new HashSet<>(seen.stream().map(Vm::getName).toList())).hasSize(450);
      ch.shutdownNow();
    }
  }
}
