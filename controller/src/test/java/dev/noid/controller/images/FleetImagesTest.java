package dev.noid.controller.images;

import dev.noid.controller.images.importing.ImageKernel;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.noid.controller.MutableClock;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.nodes.NodeRegistry;
import dev.noid.controller.store.SqliteStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FleetImagesTest {
  private static final String D1 = "sha256:" + "1".repeat(64);
  private static final String D2 = "sha256:" + "2".repeat(64);

  @TempDir Path dir;
  private SqliteStore store;
  private ImageBlobs blobs;
  private final List<String> users = new ArrayList<>();
  private FleetImages images;
  private final MutableClock clock = new MutableClock(Instant.parse("2026-12-04T08:00:00Z"));

  @BeforeEach
  void setUp() throws Exception {
    store = SqliteStore.open(dir.resolve("noid.db"));
    blobs = new ImageBlobs(dir.resolve("images"));
    images = open();
  }

  private FleetImages open() {
    return new FleetImages(store, blobs, digest -> users.stream()
        .filter(u -> u.endsWith(digest)).toList(),
        new NodeRegistry(store, Clock.systemUTC(), Duration.ofMinutes(1)), clock);
  }

  @AfterEach
  void tearDown() {
    store.close();
  }

  private void add(String name, String digest, boolean replace) throws Exception {
    Path file = blobs.workDir().resolve("x.ext4");
    Files.writeString(file, name + digest);
    images.adoptAndRecord(() -> blobs.adopt(file, digest, ImageBlobs.Part.EXT4), name, digest,
        42, "test", "amd64", ImageKernel.NODE_DEFAULT, replace);
  }

  @Test
  void aNameIsPinnedToItsDigestAndSurvivesARestart() throws Exception {
    add("debian-12", D1, false);

    assertThat(images.pin("debian-12")).isEqualTo("debian-12@" + D1);
    assertThat(open().pin("debian-12")).isEqualTo("debian-12@" + D1);
    assertThat(open().get("debian-12").sizeBytes()).isEqualTo(42);
  }

  @Test
  void anImagesSizeForItsPeersIsThatOfTheFileThisControllerHolds() throws Exception {
    add("debian-12", D1, false);

    assertThat(blobs.ext4Bytes(D1)).hasValue(("debian-12" + D1).length());
    assertThat(blobs.ext4Bytes(D2)).isEmpty();
    assertThat(blobs.ext4Bytes("sha256:../../etc/passwd")).isEmpty();
  }

  @Test
  void reImportingANameNeedsReplaceAndLeavesPinnedVmsOnTheOldFile() throws Exception {
    add("debian-12", D1, false);
    users.add("VM alice/web " + D1);

    assertThatThrownBy(() -> add("debian-12", D2, false)).isInstanceOf(NoidException.class)
        .hasMessageContaining("--replace")
        .extracting(e -> ((NoidException) e).code()).isEqualTo(NoidException.Code.ALREADY_EXISTS);
    add("debian-12", D2, true);

    assertThat(images.pin("debian-12")).isEqualTo("debian-12@" + D2);
    assertThat(blobs.has(D1)).as("a VM still runs on the old image").isTrue();
    assertThat(images.pin("debian-12@" + D1)).isEqualTo("debian-12@" + D1);
  }

  @Test
  void anImageInUseCannotBeRemovedAndAnUnusedOneTakesItsFileWithIt() throws Exception {
    add("debian-12", D1, false);
    users.add("VM alice/web " + D1);

    assertThatThrownBy(() -> images.remove("debian-12")).isInstanceOf(NoidException.class)
        .hasMessageContaining("in use by VM alice/web")
        .extracting(e -> ((NoidException) e).code()).isEqualTo(NoidException.Code.WRONG_STATE);
    assertThat(images.list()).hasSize(1);

    users.clear();
    images.remove("debian-12");
    assertThat(images.list()).isEmpty();
    assertThat(blobs.has(D1)).isFalse();
    assertThat(open().list()).isEmpty();
  }

  @Test
  void unknownImagesAreNotFoundListingTheOnesThatExist() throws Exception {
    add("debian-12", D1, false);
    add("alpine", D2, false);

    assertThatThrownBy(() -> images.get("ubuntu")).isInstanceOf(NoidException.class)
        .hasMessageContaining("image 'ubuntu' not found (fleet images: alpine, debian-12)")
        .extracting(e -> ((NoidException) e).code()).isEqualTo(NoidException.Code.NOT_FOUND);
    assertThatThrownBy(() -> images.pin("debian-12@sha256:" + "9".repeat(64)))
        .hasMessageContaining("not found (images: alpine, debian-12)");
    assertThatThrownBy(() -> images.pin("debian-12@latest")).hasMessageContaining("not found");
  }

  @Test
  void aPlainNameNoFleetImageHasIsLeftToTheNodesThatReportIt() {
    // With no node reporting images there is nothing to check a node-local name against.
    assertThat(images.pin("dev")).isEqualTo("dev");
  }

  @Test
  void aRemoveRacingACreateThatPinnedTheImageKeepsTheFileForTheCreate() throws Exception {
    add("debian-12", D1, false);
    images.pin("debian-12"); // a create has pinned it; its VM is not stored yet

    images.remove("debian-12");
    assertThat(blobs.has(D1)).as("the create's node can still pull it").isTrue();

    users.add("VM alice/web " + D1); // the VM is stored
    clock.advance(FleetImages.PIN_GRACE.plusMinutes(1));
    add("other", D2, false); // a later record sweeps
    assertThat(blobs.has(D1)).as("used by a VM").isTrue();

    users.clear(); // the VM is destroyed
    images.remove("other");
    assertThat(blobs.has(D1)).as("unused and past the grace").isFalse();
  }

  @Test
  void fileWithoutANameAtStartIsRemovedByTheNextChangeUnlessSomethingUsesIt() throws Exception {
    add("debian-12", D1, false);
    add("keep", D2, false);
    store.deleteImage("debian-12"); // as a crash between a deferred remove and its sweep leaves it
    store.deleteImage("keep");
    users.add("VM alice/web " + D2);
    images = open();

    add("third", "sha256:" + "3".repeat(64), false);

    assertThat(blobs.has(D1)).isFalse();
    assertThat(blobs.has(D2)).isTrue();
  }
}
