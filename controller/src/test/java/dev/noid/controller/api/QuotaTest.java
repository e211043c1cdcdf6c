package dev.noid.controller.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.noid.api.v1.CreateCheckpointRequest;
import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.CreateVmsRequest;
import dev.noid.api.v1.DestroyVmRequest;
import dev.noid.api.v1.GetQuotaRequest;
import dev.noid.api.v1.GetQuotaResponse;
import dev.noid.api.v1.ListVmsRequest;
import dev.noid.api.v1.Quota;
import dev.noid.api.v1.SetQuotaRequest;
import dev.noid.api.v1.UserServiceGrpc;
import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.controller.quotas.Quotas;
import dev.noid.controller.users.LoginLimiter;
import dev.noid.controller.users.UserDirectory;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 19 M2: per-user quotas, set by an admin over the API and enforced on VM creates,
 * batches, concurrent creates and checkpoints, against fake agents through the real services.
 */
@Timeout(60)
class QuotaTest {
  @TempDir Path dir;
  private InProcessController c;
  private ManagedChannel ch;
  private UserServiceGrpc.UserServiceBlockingStub admin;
  private UserServiceGrpc.UserServiceBlockingStub bobUsers;
  private VmServiceGrpc.VmServiceBlockingStub bob;

  @BeforeEach
  void start() throws Exception {
    c = new InProcessController(dir, Duration.ofSeconds(30), Map.of("node-a", 65536L));
    ch = c.channel();
    admin = UserServiceGrpc.newBlockingStub(ch)
        .withCallCredentials(ConcurrentCreateTest.bearer(c.users.add("root", "admin").token()));
    String token = c.users.add("bob", "user").token();
    bob = VmServiceGrpc.newBlockingStub(ch).withCallCredentials(ConcurrentCreateTest.bearer(token));
    bobUsers = UserServiceGrpc.newBlockingStub(ch).withCallCredentials(ConcurrentCreateTest.bearer(token));
  }

  @AfterEach
  void stop() {
    ch.shutdownNow();
    c.close();
  }

  private void setQuota(Quota q) {
    admin.setQuota(SetQuotaRequest.newBuilder().setName("bob").setQuota(q).build());
  }

  private static CreateVmRequest vm(String name, int cpus) {
    return CreateVmRequest.newBuilder().setName(name).setCpus(cpus).setMemMib(128).build();
  }

  private static Status refusal(Runnable call) {
    StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class, call::run);
    assertThat(e).as("refused").isNotNull();
    return e.getStatus();
  }

  @Test
  void aCreateOverTheVmQuotaIsResourceExhaustedNamingItAndCreatesNothing() {
    setQuota(Quota.newBuilder().setVms(2).build());
    bob.createVm(vm("a", 1));
    bob.createVm(vm("b", 1));

    Status s = refusal(() -> bob.createVm(vm("c", 1)));

    assertThat(s.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    assertThat(s.getDescription()).isEqualTo("quota vms exceeded: 2 held + 1 requested > limit 2");
    assertThat(bob.listVms(ListVmsRequest.getDefaultInstance()).getVmsCount()).isEqualTo(2);
  }

  @Test
  void vcpusAndMemoryAreCountedAndADestroyGivesThemBack() {
    setQuota(Quota.newBuilder().setVcpus(3).setMemoryMib(1024).build());
    bob.createVm(vm("a", 2));

    Status s = refusal(() -> bob.createVm(vm("b", 2)));
    assertThat(s.getDescription()).isEqualTo("quota vcpus exceeded: 2 held + 2 requested > limit 3");
    Status mem = refusal(() -> bob.createVm(CreateVmRequest.newBuilder().setName("big").setCpus(1)
        .setMemMib(1024).build()));
    assertThat(mem.getDescription()).isEqualTo("quota memory_mib exceeded: 128 held + 1024 requested > limit 1024");

    bob.destroyVm(DestroyVmRequest.newBuilder().setName("a").build());
    bob.createVm(vm("b", 2));
    GetQuotaResponse mine = bobUsers.getQuota(GetQuotaRequest.getDefaultInstance());
    assertThat(mine.getName()).isEqualTo("bob");
    assertThat(mine.getQuota().getVcpus()).isEqualTo(3);
    assertThat(mine.getQuota().hasVms()).as("unset is unlimited").isFalse();
    assertThat(mine.getUsage().getVms()).isEqualTo(1);
    assertThat(mine.getUsage().getVcpus()).isEqualTo(2);
    assertThat(mine.getUsage().getMemoryMib()).isEqualTo(128);
  }

  /** As `noid-controller users remove` and `users add` on the host, beside the controller. */
  @Test
  void aUserRemovedOnTheHostAndAddedAgainDoesNotInheritTheOldQuota() {
    setQuota(Quota.newBuilder().setVcpus(3).build());
    c.users.checkForChangesElsewhere();
    UserDirectory host = new UserDirectory(c.store,
        new LoginLimiter(10, Duration.ofSeconds(60), java.time.Clock.systemUTC()),
        java.time.Clock.systemUTC());

    host.revoke("bob");
    host.remove("bob");
    c.users.checkForChangesElsewhere();
    String token = host.add("bob", "user").token();

    GetQuotaResponse q = UserServiceGrpc.newBlockingStub(ch)
        .withCallCredentials(ConcurrentCreateTest.bearer(token))
        .getQuota(GetQuotaRequest.getDefaultInstance());
    assertThat(q.getQuota().hasVcpus()).as("the new bob is unlimited").isFalse();
  }

  @Test
  void aBatchOverTheQuotaCreatesNoneOfIt() {
    setQuota(Quota.newBuilder().setVms(3).build());

    Status s = refusal(() -> bob.createVms(CreateVmsRequest.newBuilder().setTemplate(vm("w", 1))
        .setCount(5).build()));

    assertThat(s.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    assertThat(s.getDescription()).isEqualTo("quota vms exceeded: 0 held + 5 requested > limit 3");
    assertThat(bob.listVms(ListVmsRequest.getDefaultInstance()).getVmsCount()).isZero();
  }

  @Test
  void parallelCreatesCannotTogetherPassTheQuota() throws Exception {
    setQuota(Quota.newBuilder().setVms(5).build());
    ExecutorService pool = Executors.newFixedThreadPool(20);
    try {
      List<Future<Boolean>> results = new ArrayList<>();
      for (int i = 0; i < 20; i++) {
        String name = "p" + i;
        results.add(pool.submit(() -> {
          try {
            bob.createVm(vm(name, 1));
            return true;
          } catch (StatusRuntimeException e) {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
            return false;
          }
        }));
      }
      long created = 0;
      for (Future<Boolean> f : results) {
        created += f.get() ? 1 : 0;
      }
      assertThat(created).isEqualTo(5);
      assertThat(bob.listVms(ListVmsRequest.getDefaultInstance()).getVmsCount()).isEqualTo(5);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void checkpointsAreCountedAndTheirBytesToo() {
    bob.createVm(vm("web", 1));
    setQuota(Quota.newBuilder().setCheckpoints(1).build());
    bob.createCheckpoint(CreateCheckpointRequest.newBuilder().setVm("web").setLabel("one").build());

    Status count = refusal(() -> bob.createCheckpoint(CreateCheckpointRequest.newBuilder()
        .setVm("web").setLabel("two").build()));
    assertThat(count.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    assertThat(count.getDescription()).isEqualTo("quota checkpoints exceeded: 1 held + 1 requested > limit 1");

    // The fake's checkpoint holds the guest's 128 MiB: a second one does not fit in 200 MiB.
    setQuota(Quota.newBuilder().setCheckpointBytes(200L << 20).build());
    Status bytes = refusal(() -> bob.createCheckpoint(CreateCheckpointRequest.newBuilder()
        .setVm("web").setLabel("three").build()));
    assertThat(bytes.getDescription()).startsWith("quota checkpoint_bytes exceeded: 134217728 held + 134217728 requested");
    assertThat(c.agents.get("node-a").checkpointCount())
        .as("the checkpoint taken over quota is not left on the node").isEqualTo(1);
  }

  @Test
  void onlyAdminsSetQuotasAndUsersReadOnlyTheirOwn() {
    Status set = refusal(() -> bobUsers.setQuota(SetQuotaRequest.newBuilder().setName("bob")
        .setQuota(Quota.newBuilder().setVms(100)).build()));
    assertThat(set.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    Status other = refusal(() -> bobUsers.getQuota(GetQuotaRequest.newBuilder().setName("root").build()));
    assertThat(other.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    Status nobody = refusal(() -> admin.setQuota(SetQuotaRequest.newBuilder().setName("carol").build()));
    assertThat(nobody.getCode()).isEqualTo(Status.Code.NOT_FOUND);
    Status huge = refusal(() -> setQuota(Quota.newBuilder().setVms(-1L).build()));
    assertThat(huge.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(huge.getDescription()).isEqualTo(
        "quota.vms must be at most 9223372036854775807; got 18446744073709551615");
  }

  @Test
  void quotasSurviveARestartAndAnEmptyQuotaClearsThem() {
    setQuota(Quota.newBuilder().setVms(7).setCheckpointBytes(1L << 30).build());

    assertThat(new Quotas(c.store).limits("bob").vms()).hasValue(7);
    assertThat(new Quotas(c.store).limits("bob").checkpointBytes()).hasValue(1L << 30);

    setQuota(Quota.getDefaultInstance());
    assertThat(new Quotas(c.store).limits("bob").vms()).isEmpty();
  }
}
