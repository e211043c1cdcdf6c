package dev.noid.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.CreateVmResponse;
import dev.noid.api.v1.Vm;
import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.api.v1.VmState;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `noid create --mem` takes sizes as `--disk` does; a plain number stays MiB. */
class CreateSizesTest {
  @TempDir
  Path home;
  private TlsController server;
  private final List<CreateVmRequest> asked = new CopyOnWriteArrayList<>();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  @BeforeEach
  void start() throws Exception {
    server = new TlsController(home, new VmServiceGrpc.VmServiceImplBase() {
      @Override
      public void createVm(CreateVmRequest r, StreamObserver<CreateVmResponse> out) {
        asked.add(r);
        out.onNext(CreateVmResponse.newBuilder().setVm(Vm.newBuilder().setName(r.getName())
            .setState(VmState.VM_STATE_RUNNING).setNode("node-a")).build());
        out.onCompleted();
      }
    });
  }

  @AfterEach
  void stop() {
    server.close();
  }

  private int noid(String... args) {
    return InProcess.run(server.env, home, err, args);
  }

  @Test
  void memoryAndDiskAreReadAsSizes() {
    assertThat(noid("create", "a", "--mem", "2G", "--disk", "4G")).isZero();
    assertThat(noid("create", "b", "--mem", "512")).isZero();
    assertThat(noid("create", "c")).isZero();

    assertThat(asked).extracting(CreateVmRequest::getMemMib).containsExactly(2048, 512, 256);
    assertThat(asked.getFirst().getDiskMib()).isEqualTo(4096);
  }

  @Test
  void aMemorySizeThatIsNotOneIsRefusedBeforeAnyCall() {
    assertThat(noid("create", "a", "--mem", "lots")).isEqualTo(CliException.USAGE);

    assertThat(err.toString(StandardCharsets.UTF_8)).contains("--mem must be a size");
    assertThat(asked).isEmpty();
  }
}
