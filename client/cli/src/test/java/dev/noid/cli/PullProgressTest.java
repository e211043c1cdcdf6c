package dev.noid.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.api.v1.GetImageRequest;
import dev.noid.api.v1.GetImageResponse;
import dev.noid.api.v1.GetVmRequest;
import dev.noid.api.v1.GetVmResponse;
import dev.noid.api.v1.Image;
import dev.noid.api.v1.ImagePull;
import dev.noid.api.v1.ImageServiceGrpc;
import dev.noid.api.v1.Vm;
import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.client.NoidClient;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class PullProgressTest {
  @Test
  void onATerminalTheCreatesMessageFollowsThePullToTheNodeTheVmWasPlacedOn() throws Exception {
    String name = "pulls-" + System.nanoTime();
    Server server = InProcessServerBuilder.forName(name).addService(new VmServiceGrpc.VmServiceImplBase() {
      @Override
      public void getVm(GetVmRequest r, StreamObserver<GetVmResponse> out) {
        out.onNext(GetVmResponse.newBuilder().setVm(Vm.newBuilder().setName(r.getName())
            .setNode("node-b")).build());
        out.onCompleted();
      }
    }).addService(new ImageServiceGrpc.ImageServiceImplBase() {
      @Override
      public void getImage(GetImageRequest r, StreamObserver<GetImageResponse> out) {
        out.onNext(GetImageResponse.newBuilder().setImage(Image.newBuilder().setName(r.getName())
            .addPulls(pull("node-a", 7, 310)).addPulls(pull("node-b", 120, 310))).build());
        out.onCompleted();
      }
    }).build().start();
    PrintStream err = new PrintStream(new ByteArrayOutputStream());
    Session.set(new Session(Map.of(), Path.of("."), true, true, true, false, err, err));
    BlockingQueue<String> shown = new LinkedBlockingQueue<>();
    try (NoidClient client = NoidClient.builder().token("t")
        .channel(InProcessChannelBuilder.forName(name).build()).build();
        PullProgress watch = PullProgress.start(client, "debian-12@sha256:" + "a".repeat(64),
            "deb", null, "creating deb", shown::add)) {
      assertThat(shown.poll(10, TimeUnit.SECONDS))
          .isEqualTo("creating deb: pulling image debian-12 to node-b, 120M of 310M");
    } finally {
      Session.set(null);
      server.shutdownNow();
    }
  }

  private static ImagePull pull(String node, long doneMib, long totalMib) {
    return ImagePull.newBuilder().setNode(node).setDoneBytes(doneMib << 20)
        .setTotalBytes(totalMib << 20).build();
  }

  @Test
  void thePullToTheVmsNodeIsShownWithHowFarItGot() {
    List<ImagePull> pulls = List.of(pull("node-a", 7, 310), pull("node-b", 120, 310));

    assertThat(PullProgress.message("creating deb", "debian-12", pulls, "node-b"))
        .isEqualTo("creating deb: pulling image debian-12 to node-b, 120M of 310M");
  }

  @Test
  void beforeTheVmIsPlacedAnyNodesPullIsShown() {
    assertThat(PullProgress.message("creating deb", "debian-12", List.of(pull("node-a", 7, 310)),
        null)).isEqualTo("creating deb: pulling image debian-12 to node-a, 7.0M of 310M");
  }

  @Test
  void aPullWhoseSizeIsNotKnownYetShowsOnlyTheBytesSoFar() {
    assertThat(PullProgress.message("creating deb", "debian-12", List.of(pull("node-a", 0, 0)),
        "node-a")).isEqualTo("creating deb: pulling image debian-12 to node-a, 0B");
  }

  @Test
  void withoutAPullToTheVmsNodeTheMessageIsTheCreateAlone() {
    assertThat(PullProgress.message("creating deb", "debian-12", List.of(pull("node-a", 7, 310)),
        "node-b")).isEqualTo("creating deb");
    assertThat(PullProgress.message("creating deb", "debian-12", List.of(), null))
        .isEqualTo("creating deb");
  }
}
