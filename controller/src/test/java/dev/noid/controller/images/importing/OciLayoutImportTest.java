package dev.noid.controller.images.importing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.noid.controller.domain.NoidException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OciLayoutImportTest {
  private static final long BUDGET = 256L << 20;

  @TempDir Path tmp;

  @Test
  void flattensLayersApplyingWhiteoutsAndOpaqueDirectories() throws Exception {
    Path layout = OciImages.busyboxLayout(tmp.resolve("layout"), "1.0");
    Path work = tmp.resolve("work");

    ImportedImage image = new ImageImporter(BUDGET)
        .importImage(new ImportSource.OciLayout(layout, "1.0"), work);

    assertThat(image.ext4()).isRegularFile().hasParent(work);
    assertThat(image.sizeBytes()).isEqualTo(Files.size(image.ext4()));
    assertThat(image.digest()).isEqualTo("sha256:" + Sha256.ofFile(image.ext4()));
    assertThat(image.architecture()).isEqualTo("amd64");
    assertThat(image.origin()).isEqualTo("OCI layout " + layout + ":1.0@"
        + OciImages.manifestDigest(layout));
    assertThat(Ext4Contents.list(image.ext4(), "/etc")).containsOnlyKeys("hostname", "added");
    assertThat(Ext4Contents.list(image.ext4(), "/data/old")).containsOnlyKeys("c");
    assertThat(Ext4Contents.list(image.ext4(), "/bin")).containsOnlyKeys("busybox", "sh");
    assertThat(Ext4Contents.list(image.ext4(), "/home").get("owned").uid()).isEqualTo(1000);
    assertThat(Ext4Contents.list(image.ext4(), "/bin").get("busybox").mode() & 0777)
        .isEqualTo(0755);
    assertThat(Ext4Contents.directoryMode(image.ext4(), "/")).isEqualTo(0755);
    // The scratch directory is gone; only the image stays.
    try (var left = Files.list(work)) {
      assertThat(left).containsExactly(image.ext4());
    }
  }

  /**
   * A layer that is small compressed but large unpacked, over twice the image limit: refused
   * before umoci writes it out. Before, umoci unpacked every layer onto the controller's disk
   * first, and only the ext4 step measured the tree.
   */
  @Test
  void layersThatWouldUnpackToMoreThanTwiceTheLimitAreRefusedBeforeUnpacking() throws Exception {
    long limit = 16L << 20;
    Path layout = OciImages.layout(tmp.resolve("layout"), "big", "amd64", List.of(
        OciImages.baseLayer(), new LayerTar().dir("data").file("data/zeros", new byte[48 << 20], 0644)));

    NoidException e = catchThrowableOfType(NoidException.class, () -> new ImageImporter(limit)
        .importImage(new ImportSource.OciLayout(layout, "big"), tmp.resolve("work")));

    assertThat(e).isNotNull();
    assertThat(e.code()).isEqualTo(NoidException.Code.LIMIT_EXCEEDED);
    assertThat(e.getMessage()).contains("its layers unpack to").contains("over twice the image"
        + " limit of 16 MiB");
    try (var left = Files.list(tmp.resolve("work"))) {
      assertThat(left).as("nothing kept").isEmpty();
    }
  }

  @Test
  void fromAMultiPlatformIndexTheAmd64ImageIsTaken() throws Exception {
    // The arm64 image has no shell at all: taking it would be refused.
    Path layout = OciImages.multiPlatformLayout(tmp.resolve("layout"), "multi", Map.of(
        "arm64", List.of(new LayerTar().dir("etc").file("etc/arm", "arm")),
        "amd64", List.of(OciImages.baseLayer(), OciImages.changeLayer())));

    ImportedImage image = new ImageImporter(BUDGET)
        .importImage(new ImportSource.OciLayout(layout, "multi"), tmp.resolve("work"));

    assertThat(image.origin()).endsWith("@" + OciImages.manifestDigest(layout));
    assertThat(Ext4Contents.list(image.ext4(), "/etc")).containsOnlyKeys("hostname", "added");
  }

  @Test
  void anEmptyRefTakesTheLayoutsOnlyManifest() {
    Path layout = OciImages.busyboxLayout(tmp.resolve("layout"), "only");

    ImportedImage image = new ImageImporter(BUDGET)
        .importImage(new ImportSource.OciLayout(layout, ""), tmp.resolve("work"));

    assertThat(image.ext4()).isRegularFile();
  }
}
