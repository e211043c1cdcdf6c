package dev.noid.controller.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.DestroyVmRequest;
import dev.noid.api.v1.GetImageRequest;
import dev.noid.api.v1.Image;
import dev.noid.api.v1.ImagePull;
import dev.noid.api.v1.ImageSourceKind;
import dev.noid.api.v1.ImportImageStart;
import dev.noid.api.v1.ListImagesRequest;
import dev.noid.api.v1.RemoveImageRequest;
import dev.noid.client.NoidClient;
import dev.noid.client.NoidException;
import dev.noid.controller.images.importing.OciImages;
import dev.noid.controller.images.importing.RegistryServer;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** noid.v1.ImageService through the real API: uploads, who may do what, and VMs pinning images. */
class ImageApiTest {
  @TempDir Path dir;
  private InProcessController c;
  private NoidClient admin;
  private NoidClient alice;
  private Path ext4;

  @BeforeEach
  void setUp() throws Exception {
    c = new InProcessController(dir, Duration.ofSeconds(30), Map.of("node-a", 4096L));
    admin = client(c.users.add("root", "admin").token());
    alice = client(c.users.add("alice", "user").token());
    ext4 = busyboxExt4(dir);
  }

  private NoidClient client(String token) {
    return NoidClient.builder().token(token)
        .channel(InProcessChannelBuilder.forName(c.name()).build()).build();
  }

  @AfterEach
  void tearDown() throws Exception {
    admin.close();
    alice.close();
    c.close();
  }

  /** The smallest image that boots: busybox as /bin/sh, in an ext4 made without mounting. */
  static Path busyboxExt4(Path dir) throws Exception {
    Path root = dir.resolve("rootfs");
    Files.createDirectories(root.resolve("bin"));
    Files.copy(Path.of("/bin/busybox"), root.resolve("bin/busybox"));
    Files.createSymbolicLink(root.resolve("bin/sh"), Path.of("busybox"));
    Path file = dir.resolve("busybox.ext4");
    run("truncate", "-s", "16M", file.toString());
    run("mkfs.ext4", "-q", "-F", "-d", root.toString(), file.toString());
    return file;
  }

  private static void run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor()).as(out).isZero();
  }

  private Image importExt4(NoidClient as, String name) throws Exception {
    List<Long> sent = new ArrayList<>();
    try (InputStream in = Files.newInputStream(ext4)) {
      Image image = as.importImage(ImportImageStart.newBuilder().setName(name)
          .setKind(ImageSourceKind.IMAGE_SOURCE_KIND_EXT4).setReference("busybox.ext4").build(),
          in, sent::add);
      assertThat(sent).last().isEqualTo(Files.size(ext4));
      return image;
    }
  }

  @Test
  void anAdminImportsAnImageEveryoneListsItAndNewVmsPinItsDigest() throws Exception {
    Image image = importExt4(admin, "busy");

    assertThat(image.getDigest()).matches("sha256:[0-9a-f]{64}");
    assertThat(image.getSizeBytes()).isEqualTo(16L << 20);
    assertThat(image.getOrigin()).startsWith("ext4 file busybox.ext4 sha256:");
    assertThat(image.getKernel()).as("no /boot: the node's kernel").isEqualTo("node default");
    assertThat(alice.images().listImages(ListImagesRequest.getDefaultInstance()).getImagesList())
        .extracting(Image::getName).containsExactly("busy");
    assertThat(alice.images().getImage(GetImageRequest.newBuilder().setName("busy").build())
        .getImage().getDigest()).isEqualTo(image.getDigest());

    var vm = alice.createVm(CreateVmRequest.newBuilder().setName("web").setImage("busy").setCpus(1).setMemMib(256).build());
    assertThat(vm.getImage()).isEqualTo("busy@" + image.getDigest());
    assertThat(c.agents.get("node-a").vms().values()).singleElement()
        .extracting(r -> r.getSpec().getImage()).isEqualTo("busy@" + image.getDigest());
  }

  @Test
  void anImageShowsTheNodesPullingItAsTheirHeartbeatsReportThemUntilThePullIsDone()
      throws Exception {
    Image busy = importExt4(admin, "busy");
    c.heartbeatPulling("node-a", dev.noid.api.agent.v1.ImagePull.newBuilder()
        .setDigest(busy.getDigest()).setDoneBytes(5L << 20).setTotalBytes(16L << 20).build(),
        dev.noid.api.agent.v1.ImagePull.newBuilder().setDigest("sha256:" + "0".repeat(64))
            .setDoneBytes(1).build());

    ImagePull expected = ImagePull.newBuilder().setNode("node-a").setDoneBytes(5L << 20)
        .setTotalBytes(16L << 20).build();
    assertThat(alice.images().getImage(GetImageRequest.newBuilder().setName("busy").build())
        .getImage().getPullsList()).as("only the pull of this image's digest").containsExactly(expected);
    assertThat(alice.images().listImages(ListImagesRequest.getDefaultInstance()).getImages(0)
        .getPullsList()).containsExactly(expected);

    c.heartbeatPulling("node-a");
    assertThat(alice.images().getImage(GetImageRequest.newBuilder().setName("busy").build())
        .getImage().getPullsList()).as("the next heartbeat reports the pull done").isEmpty();
  }

  @Test
  void anAdminImportsFromARealRegistryWhichTheControllerPullsItself() throws Exception {
    try (RegistryServer registry = RegistryServer.start(Files.createDirectories(dir.resolve("registry")))) {
      Path layout = OciImages.busyboxLayout(dir.resolve("layout"), "1");
      run("skopeo", "--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false",
          "oci:" + layout + ":1", "docker://" + registry.address() + "/tools/busybox:1");

      Image image = admin.importImage(ImportImageStart.newBuilder().setName("busybox")
          .setKind(ImageSourceKind.IMAGE_SOURCE_KIND_REGISTRY)
          .setReference("oci://" + registry.address() + "/tools/busybox:1").setPlainHttp(true)
          .build(), null, b -> {});

      assertThat(image.getOrigin()).startsWith("oci://" + registry.address() + "/tools/busybox:1@sha256:");
      assertThat(image.getDigest()).matches("sha256:[0-9a-f]{64}");
      assertThat(c.images.pin("busybox")).isEqualTo("busybox@" + image.getDigest());
    }
  }

  @Test
  void aRegistrySourceThatIsNotAnOciReferenceIsRefusedNamingTheField() {
    NoidException e = catchThrowableOfType(NoidException.class, () -> admin.importImage(
        ImportImageStart.newBuilder().setName("web").setKind(ImageSourceKind.IMAGE_SOURCE_KIND_REGISTRY)
            .setReference("https://example.com/x").build(), null, b -> {}));

    assertThat(e.code()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(e.getMessage()).contains("start.reference must be oci://");
  }

  @Test
  void usersMayNotImportOrRemoveImages() throws Exception {
    importExt4(admin, "busy");

    NoidException importing = catchThrowableOfType(NoidException.class,
        () -> importExt4(alice, "mine"));
    StatusRuntimeException removing = catchThrowableOfType(StatusRuntimeException.class,
        () -> alice.images().removeImage(RemoveImageRequest.newBuilder().setName("busy").build()));

    assertThat(importing.code()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(removing.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(c.images.list()).extracting(i -> i.name()).containsExactly("busy");
  }

  @Test
  void aCreateNamingAnUnknownImageIsNotFoundListingTheImagesThatExist() throws Exception {
    importExt4(admin, "busy");

    NoidException e = catchThrowableOfType(NoidException.class, () -> alice.createVm(
        CreateVmRequest.newBuilder().setName("web").setImage("ubuntu-24.04").setCpus(1).setMemMib(256).build()));

    assertThat(e.code()).isEqualTo(Status.Code.NOT_FOUND);
    assertThat(e.getMessage()).contains("image 'ubuntu-24.04' not found (images: busy, dev)");
  }

  @Test
  void anImageInUseCannotBeRemovedUntilItsVmsAreGone() throws Exception {
    importExt4(admin, "busy");
    alice.createVm(CreateVmRequest.newBuilder().setName("web").setImage("busy").setCpus(1).setMemMib(256).build());

    StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class, () -> admin
        .images().removeImage(RemoveImageRequest.newBuilder().setName("busy").build()));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(e.getMessage()).contains("in use by VM alice/web");

    alice.vms().destroyVm(DestroyVmRequest.newBuilder().setName("web").build());
    org.awaitility.Awaitility.await().untilAsserted(() -> assertThat(c.vms.records().table()
        .find("alice", "web")).isEmpty());
    admin.images().removeImage(RemoveImageRequest.newBuilder().setName("busy").build());
    assertThat(admin.images().listImages(ListImagesRequest.getDefaultInstance()).getImagesCount())
        .isZero();
  }

  @Test
  void aCorruptUploadIsRefusedSayingWhyAndRecordsNothing() throws Exception {
    byte[] garbage = "this is not a tar archive at all".repeat(100).getBytes();

    NoidException e = catchThrowableOfType(NoidException.class, () -> admin.importImage(
        ImportImageStart.newBuilder().setName("broken")
            .setKind(ImageSourceKind.IMAGE_SOURCE_KIND_ROOTFS_TARBALL).build(),
        new ByteArrayInputStream(garbage), b -> {}));

    assertThat(e.code()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(e.getMessage()).as("the controller's own paths stay its own")
        .doesNotContain(dir.toString());
    assertThat(c.images.list()).isEmpty();
    try (var left = Files.list(dir.resolve("images").resolve("tmp"))) {
      assertThat(left.toList()).as("the upload is cleaned up").isEmpty();
    }
  }

  @Test
  void anUploadWithABadNameIsRefusedNamingTheField() {
    NoidException e = catchThrowableOfType(NoidException.class, () -> admin.importImage(
        ImportImageStart.newBuilder().setName("Not A Name")
            .setKind(ImageSourceKind.IMAGE_SOURCE_KIND_EXT4).build(),
        new ByteArrayInputStream(new byte[10]), b -> {}));

    assertThat(e.code()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(e.getMessage()).contains("start.name");
  }
}
