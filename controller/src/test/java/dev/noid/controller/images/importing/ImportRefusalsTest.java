package dev.noid.controller.images.importing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.NoidException.Code;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every refusal of the importer, each performed with a real image and the real tools. */
class ImportRefusalsTest {
  private static final long BUDGET = 256L << 20;

  @TempDir Path tmp;

  private Path work() {
    return tmp.resolve("work");
  }

  /** Refused or not, an import leaves nothing behind in its work directory. */
  @AfterEach
  void workDirectoryIsEmpty() throws Exception {
    if (Files.exists(work())) {
      try (var left = Files.list(work())) {
        assertThat(left).isEmpty();
      }
    }
  }

  private NoidException refusal(ImportSource source) {
    return refusal(source, BUDGET);
  }

  private NoidException refusal(ImportSource source, long budget) {
    Throwable thrown = catchThrowable(
        () -> new ImageImporter(budget).importImage(source, work()));
    assertThat(thrown).isInstanceOf(NoidException.class);
    return (NoidException) thrown;
  }

  private Path layout(String architecture, LayerTar... layers) {
    return OciImages.layout(tmp.resolve("layout"), "t", architecture, List.of(layers));
  }

  @Test
  void anImageWithoutInitOrShellIsRefused() {
    Path layout = layout("amd64", new LayerTar().dir("etc").file("etc/motd", "hi"));

    NoidException e = refusal(new ImportSource.OciLayout(layout, "t"));

    assertThat(e.code()).isEqualTo(Code.INVALID_ARGUMENT);
    assertThat(e.getMessage()).contains("image has no init: neither /sbin/init nor /bin/sh")
        .contains(layout.toString());
  }

  @Test
  void linksAreResolvedInsideTheImageNotOnTheHost() {
    // The host has /usr/bin/busybox; the image does not, so this /bin/sh leads nowhere.
    Path layout = layout("amd64", new LayerTar().dir("bin")
        .symlink("bin/sh", "/usr/bin/busybox").symlink("bin/loop", "loop")
        .dir("sbin").symlink("sbin/init", "../../../../bin/loop"));

    NoidException e = refusal(new ImportSource.OciLayout(layout, "t"));

    assertThat(e.getMessage()).contains(InitCheck.NO_INIT);
  }

  @Test
  void aNonExecutableShellIsNoInit() {
    Path layout = layout("amd64",
        new LayerTar().dir("bin").file("bin/sh", OciImages.busybox(), 0644));

    assertThat(refusal(new ImportSource.OciLayout(layout, "t")).getMessage())
        .contains(InitCheck.NO_INIT);
  }

  @Test
  void aConfigForAnotherArchitectureIsRefused() {
    Path layout = layout("arm64", OciImages.baseLayer());

    NoidException e = refusal(new ImportSource.OciLayout(layout, "t"));

    assertThat(e.code()).isEqualTo(Code.INVALID_ARGUMENT);
    assertThat(e.getMessage()).contains("wrong architecture").contains("linux/arm64");
  }

  @Test
  void anInitBuiltForAnotherMachineIsRefused() {
    Path layout = layout("amd64", new LayerTar().dir("bin")
        .file("bin/busybox", elfFor(0xB7), 0755).symlink("bin/sh", "busybox"));

    NoidException e = refusal(new ImportSource.OciLayout(layout, "t"));

    assertThat(e.getMessage()).contains("wrong architecture")
        .contains("/bin/sh (/bin/busybox) is an ELF for arm64");
  }

  @Test
  void aScriptInitIsJudgedByItsInterpreter() {
    Path layout = layout("amd64", OciImages.baseLayer(), new LayerTar()
        .dir("sbin").file("sbin/init", "#!/lib/ld-arm -x\nexec /bin/sh\n".getBytes(), 0755)
        .dir("lib").file("lib/ld-arm", elfFor(0x28), 0755));

    NoidException e = refusal(new ImportSource.OciLayout(layout, "t"));

    assertThat(e.getMessage()).contains("/lib/ld-arm is an ELF for arm,");
  }

  @Test
  void anAlteredLayerBlobIsRefusedNamingBothDigests() throws Exception {
    Path layout = OciImages.busyboxLayout(tmp.resolve("layout"), "t");
    Path blob = OciImages.lastLayerBlob(layout);
    String claimed = "sha256:" + blob.getFileName();
    byte[] bytes = Files.readAllBytes(blob);
    bytes[bytes.length / 2] ^= 1;
    Files.write(blob, bytes);

    NoidException e = refusal(new ImportSource.OciLayout(layout, "t"));

    assertThat(e.code()).isEqualTo(Code.INVALID_ARGUMENT);
    assertThat(e.getMessage()).contains(claimed).contains("sha256:" + OciImages.sha256(bytes));
  }

  @Test
  void anExpectedDigestThatDiffersIsRefusedNamingBoth() throws Exception {
    Path tarball = tmp.resolve("rootfs.tar");
    Files.write(tarball, OciImages.baseLayer().bytes());
    String wrong = "ab".repeat(32);

    NoidException e = refusal(new ImportSource.RootfsTarball(tarball, Optional.of(wrong)));

    assertThat(e.getMessage()).contains("digest mismatch").contains("sha256:" + wrong)
        .contains("sha256:" + Sha256.ofFile(tarball));
  }

  @Test
  void anExpectedManifestDigestThatDiffersIsRefused() throws Exception {
    Path layout = OciImages.busyboxLayout(tmp.resolve("layout"), "t");
    String wrong = "sha256:" + "cd".repeat(32);

    NoidException e = refusal(new ImportSource.OciLayout(layout, "t", Optional.of(wrong)));

    assertThat(e.getMessage()).contains(wrong).contains(OciImages.manifestDigest(layout));
  }

  /**
   * The layout's index.json names the digest the admin pinned, but the manifest blob under it
   * is another image's (here: without its last layer). Before the fix only index.json's digest
   * string was compared, and the other image was imported under the pinned digest.
   */
  @Test
  void aManifestBlobThatIsNotWhatIndexJsonNamesIsRefused() throws Exception {
    Path layout = OciImages.busyboxLayout(tmp.resolve("layout"), "t");
    String pinned = OciImages.manifestDigest(layout);
    Path blob = layout.resolve("blobs/sha256/" + pinned.substring(7));
    String manifest = Files.readString(blob);
    String other = manifest.replaceFirst(",\\{[^{}]*\\}\\]", "]");
    assertThat(other).isNotEqualTo(manifest);
    Files.writeString(blob, other);

    NoidException e = refusal(new ImportSource.OciLayout(layout, "t", Optional.of(pinned)));

    assertThat(e.code()).isEqualTo(Code.INVALID_ARGUMENT);
    assertThat(e.getMessage()).contains("digest mismatch").contains(pinned)
        .contains("sha256:" + Sha256.ofFile(blob));
  }

  @Test
  void garbageIsNotAnArchive() throws Exception {
    Path garbage = tmp.resolve("image.tar");
    Files.writeString(garbage, "this is not a tar file at all\n".repeat(40));

    NoidException e = refusal(new ImportSource.Archive(garbage));

    assertThat(e.code()).isEqualTo(Code.INVALID_ARGUMENT);
    assertThat(e.getMessage()).contains(garbage.toString())
        .contains("does not look like a tar archive");
  }

  @Test
  void aTruncatedGzipTarballIsRefusedWithTarsReason() throws Exception {
    byte[] gz = OciImages.gzip(OciImages.baseLayer().bytes());
    Path truncated = tmp.resolve("rootfs.tar.gz");
    Files.write(truncated, Arrays.copyOf(gz, gz.length / 2));

    NoidException e = refusal(new ImportSource.RootfsTarball(truncated));

    assertThat(e.code()).isEqualTo(Code.INVALID_ARGUMENT);
    assertThat(e.getMessage()).contains("rootfs tarball " + truncated)
        .contains("unexpected end of file");
  }

  @Test
  void aTarballMemberOutsideTheRootIsRefused() throws Exception {
    Path tarball = tmp.resolve("rootfs.tar");
    Files.write(tarball, OciImages.baseLayer().file("etc/../../escaped", "x").bytes());

    NoidException e = refusal(new ImportSource.RootfsTarball(tarball));

    assertThat(e.getMessage()).contains("'etc/../../escaped' would be written outside");
    assertThat(tmp.resolve("escaped")).doesNotExist();
  }

  @Test
  void aCorruptExt4FileIsRefused() throws Exception {
    Path ext4 = tmp.resolve("root.ext4");
    Files.write(ext4, new byte[4 << 20]);

    NoidException e = refusal(new ImportSource.Ext4File(ext4));

    assertThat(e.code()).isEqualTo(Code.INVALID_ARGUMENT);
    assertThat(e.getMessage()).contains("ext4 file " + ext4).contains("e2fsck failed")
        .contains("while trying to open " + ext4).doesNotContain(work().toString());
  }

  @Test
  void anImageOverTheBudgetIsRefusedBeforeItsExt4IsWritten() {
    Path layout = OciImages.busyboxLayout(tmp.resolve("layout"), "t");
    // Over half of what its layers unpack to (about 27 MiB with busybox), so the check of the
    // layers lets it through; under what its ext4 file needs, measured after unpacking.
    long budget = 16L << 20;

    NoidException e = refusal(new ImportSource.OciLayout(layout, "t"), budget);

    assertThat(e.code()).isEqualTo(Code.LIMIT_EXCEEDED);
    assertThat(e.getMessage()).contains("over the limit of " + budget + " bytes")
        .containsPattern("needs \\d+ bytes");
  }

  /**
   * 72 members of 1 MiB (PAX) names compress to a few hundred KiB and list to 72 MiB: the
   * listing, before the sizes in it are added up, must not grow with the names.
   */
  private static LayerTar longNames() {
    return LayerTar.longNames(72, 1 << 20);
  }

  @Test
  void aTarballOfLongNamesIsStoppedWhileListed() throws Exception {
    Path tarball = tmp.resolve("rootfs.tar.gz");
    Files.write(tarball, OciImages.gzip(longNames().bytes()));

    NoidException e = refusal(new ImportSource.RootfsTarball(tarball), 16L << 20);

    assertThat(Files.size(tarball)).isLessThan(2 << 20);
    assertThat(e.code()).isEqualTo(Code.LIMIT_EXCEEDED);
    assertThat(e.getMessage()).contains("tar was stopped: its output is over 64 MiB");
  }

  @Test
  void aLayerOfLongNamesIsStoppedWhileListed() {
    Path layout = layout("amd64", longNames());

    NoidException e = refusal(new ImportSource.OciLayout(layout, "t"), 16L << 20);

    assertThat(e.code()).isEqualTo(Code.LIMIT_EXCEEDED);
    assertThat(e.getMessage()).contains("tar was stopped: its output is over 64 MiB");
  }

  @Test
  void aCompressedTarballIsMeasuredByWhatItUnpacksTo() throws Exception {
    // 48 MiB of zeros compress to a few KiB (beside busybox): the listing's sizes decide,
    // not the file's.
    Path tarball = tmp.resolve("rootfs.tar.gz");
    Files.write(tarball, OciImages.gzip(
        OciImages.baseLayer().file("zeros", new byte[48 << 20], 0644).bytes()));
    long budget = 32L << 20;

    NoidException e = refusal(new ImportSource.RootfsTarball(tarball), budget);

    assertThat(Files.size(tarball)).isLessThan(2 << 20);
    assertThat(e.code()).isEqualTo(Code.LIMIT_EXCEEDED);
    assertThat(e.getMessage()).contains("rootfs tarball " + tarball)
        .contains("over the limit of " + budget + " bytes (32 MiB)");
  }

  @Test
  void anExt4FileIsInspectedWithoutMountingIt() throws Exception {
    Path rootfs = Files.createDirectories(tmp.resolve("rootfs/bin"));
    Files.write(rootfs.resolve("busybox"), elfFor(0x03));
    Files.setPosixFilePermissions(rootfs.resolve("busybox"),
        PosixFilePermissions.fromString("rwxr-xr-x"));
    // A link target longer than 60 bytes is stored in a block, not in the inode.
    Files.createSymbolicLink(rootfs.resolve("sh"), Path.of("/bin/./././././././././././././"
        + "././././././././././././././busybox"));
    Path ext4 = tmp.resolve("root.ext4");
    FileSourcesImportTest.run("truncate", "-s", "16M", ext4.toString());
    FileSourcesImportTest.run("mkfs.ext4", "-q", "-F", "-d", rootfs.getParent().toString(),
        ext4.toString());

    NoidException e = refusal(new ImportSource.Ext4File(ext4));

    assertThat(e.getMessage()).contains("ext4 file " + ext4)
        .contains("/bin/sh (/bin/busybox) is an ELF for 386 (i386), not amd64");
  }

  @Test
  void anExt4FileWithoutInitIsRefused() throws Exception {
    Path rootfs = Files.createDirectories(tmp.resolve("rootfs/sbin"));
    Files.createSymbolicLink(rootfs.resolve("init"), Path.of("/sbin"));
    Path ext4 = tmp.resolve("root.ext4");
    FileSourcesImportTest.run("truncate", "-s", "16M", ext4.toString());
    FileSourcesImportTest.run("mkfs.ext4", "-q", "-F", "-d", rootfs.getParent().toString(),
        ext4.toString());

    assertThat(refusal(new ImportSource.Ext4File(ext4)).getMessage())
        .contains(InitCheck.NO_INIT);
  }

  @Test
  void aMissingSourceIsTheCallersMistake() {
    Path missing = tmp.resolve("missing.ext4");

    NoidException e = refusal(new ImportSource.Ext4File(missing));

    assertThat(e.code()).isEqualTo(Code.INVALID_ARGUMENT);
    assertThat(e.getMessage()).isEqualTo("ext4 file " + missing + ": no such file");
    assertThat(refusal(new ImportSource.OciLayout(tmp, "t")).getMessage())
        .contains("cannot read index.json");
  }

  @Test
  void anExt4FileOverTheBudgetIsRefused() throws Exception {
    Path ext4 = tmp.resolve("root.ext4");
    Files.write(ext4, new byte[2 << 20]);

    NoidException e = refusal(new ImportSource.Ext4File(ext4), 1 << 20);

    assertThat(e.code()).isEqualTo(Code.LIMIT_EXCEEDED);
    assertThat(e.getMessage()).contains("needs " + (2 << 20) + " bytes");
  }

  /** Just enough of an ELF header for the check: 64-bit, little-endian, the given machine. */
  private static byte[] elfFor(int machine) {
    byte[] elf = new byte[64];
    elf[0] = 0x7F;
    elf[1] = 'E';
    elf[2] = 'L';
    elf[3] = 'F';
    elf[4] = 2;
    elf[5] = 1;
    elf[18] = (byte) machine;
    elf[19] = (byte) (machine >> 8);
    return elf;
  }
}
