package dev.noid.controller.images.importing;

import dev.noid.controller.domain.NoidException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns an OCI image (layout, archive or registry) into a root filesystem directory: skopeo
 * copies it into a private OCI layout, verifying every blob against its digest, and umoci
 * flattens the layers, applying whiteouts and keeping owners. Both were made for exactly this;
 * a hand-written layer applier would have to get whiteouts, hard links and path escapes right.
 */
final class OciUnpacker {
  private static final String LOCAL_TAG = "image";
  private static final long MIB = 1L << 20;

  private final ToolRunner tools;
  private final long maxImageBytes;

  OciUnpacker(ToolRunner tools, long maxImageBytes) {
    this.tools = tools;
    this.maxImageBytes = maxImageBytes;
  }

  record Unpacked(Path rootfs, String origin, String architecture) {}

  Unpacked fromLayout(String subject, ImportSource.OciLayout source, Path scratch) {
    requireNoColon(subject, source.dir());
    String digest = OciLayoutReader.manifestDigest(subject, source.dir(), source.ref());
    Sha256.requireExpected(subject, source.expectedSha256(), hexOf(digest));
    String from = "oci:" + source.dir() + (source.ref().isEmpty() ? "" : ":" + source.ref());
    return copyAndUnpack(subject, from, List.of(), scratch, subject + "@" + digest);
  }

  Unpacked fromArchive(String subject, ImportSource.Archive source, Path scratch) {
    requireNoColon(subject, source.file());
    String fileHex = Sha256.ofFile(source.file());
    Sha256.requireExpected(subject, source.expectedSha256(), fileHex);
    String kind = archiveKind(subject, source.file());
    String origin = (kind.equals("oci-archive") ? "OCI archive " : "docker archive ")
        + source.file().getFileName() + " sha256:" + fileHex;
    return copyAndUnpack(subject, kind + ":" + source.file(), List.of(), scratch, origin);
  }

  Unpacked fromRegistry(String subject, ImportSource.Registry source, Path scratch) {
    List<String> tls = source.plainHttp() ? List.of("--tls-verify=false") : List.of();
    // Resolve a tag once, then copy by digest: the tag may move while the copy runs, and the
    // origin must name what was imported.
    List<String> inspect = new ArrayList<>(List.of("skopeo", "--insecure-policy", "inspect",
        "--raw", "--no-creds"));
    inspect.addAll(tls);
    inspect.add("docker://" + source.imageName());
    String digest = "sha256:" + Sha256.ofBytes(
        tools.run(subject, inspect).getBytes(StandardCharsets.UTF_8));
    if (source.byDigest() && !digest.equals(source.reference())) {
      throw NoidException.invalid(subject + ": digest mismatch: the registry served a manifest"
          + " with " + digest);
    }
    Sha256.requireExpected(subject, source.expectedSha256(), hexOf(digest));
    String pinned = source.host() + "/" + source.repository() + "@" + digest;
    List<String> srcTls = source.plainHttp() ? List.of("--src-tls-verify=false") : List.of();
    String origin = source.byDigest() ? subject : subject + "@" + digest;
    return copyAndUnpack(subject, "docker://" + pinned, srcTls, scratch, origin);
  }

  private Unpacked copyAndUnpack(String subject, String from, List<String> sourceFlags,
      Path scratch, String origin) {
    Path layout = scratch.resolve("layout");
    Path rootfs = scratch.resolve("rootfs");
    List<String> copy = new ArrayList<>(List.of("skopeo", "--insecure-policy",
        "--override-os", "linux", "--override-arch", "amd64", "copy", "--quiet", "--src-no-creds"));
    copy.addAll(sourceFlags);
    copy.addAll(List.of(from, "oci:" + layout + ":" + LOCAL_TAG));
    // The layers are checked against the budget once they are here (below); a source that
    // sends more than any image within it could hold must not fill the disk before that.
    tools.runWithin(subject, copy, layout, scratch.resolve("skopeo-tmp"), 2 * maxImageBytes,
        "twice the image limit of " + maxImageBytes / MIB + " MiB");
    // The override picked amd64 from a multi-platform index; a single-platform image is copied
    // whatever it is, so its config decides.
    OciLayoutReader.Platform platform = OciLayoutReader.platform(subject, layout, LOCAL_TAG);
    if (!platform.architecture().equals("amd64") || !platform.os().equals("linux")) {
      throw NoidException.invalid(subject + ": wrong architecture: the image is for " + platform
          + ", not linux/amd64");
    }
    requireLayersWithinBudget(subject, layout);
    tools.run(subject, List.of("umoci", "raw", "unpack", "--image", layout + ":" + LOCAL_TAG,
        rootfs.toString()));
    return new Unpacked(rootfs, origin, platform.architecture());
  }

  /**
   * What unpacking writes is at most every layer's content: a later layer may delete what an
   * earlier one added, so the sum overstates the image, but the disk holds the sum while umoci
   * works. Refused before unpacking when that is over twice the image limit: a small
   * compressed layer must not fill the controller's disk (its store lives there too).
   */
  private void requireLayersWithinBudget(String subject, Path layout) {
    long[] dataAndInodes = new long[2];
    for (Path layer : OciLayoutReader.layerBlobs(subject, layout, LOCAL_TAG)) {
      // tar recognises gzip, zstd and plain layers by their first bytes.
      tools.runLines(subject, List.of("tar", "-tvf", layer.toString(), "--numeric-owner"),
          TarballExtractor.listingBound(2 * maxImageBytes),
          TarballExtractor.listingLimit(2 * maxImageBytes), line -> {
            dataAndInodes[0] += Ext4Writer.blocksFor(TarballExtractor.memberSize(line));
            dataAndInodes[1]++;
          });
    }
    long unpacked = Ext4Writer.imageSize(new Ext4Writer.Content(dataAndInodes[0],
        dataAndInodes[1]));
    if (unpacked > 2 * maxImageBytes) {
      throw new NoidException(NoidException.Code.LIMIT_EXCEEDED, subject + ": its layers unpack"
          + " to " + unpacked / MIB + " MiB, over twice the image limit of "
          + maxImageBytes / MIB + " MiB");
    }
  }

  /** docker save writes manifest.json at the top; an OCI archive is a layout with oci-layout. */
  private String archiveKind(String subject, Path file) {
    boolean[] ociAndDocker = new boolean[2];
    tools.runLines(subject, List.of("tar", "-tf", file.toString()),
        TarballExtractor.listingBound(maxImageBytes), TarballExtractor.listingLimit(maxImageBytes),
        m -> {
          String member = m.startsWith("./") ? m.substring(2) : m;
          ociAndDocker[0] |= member.equals("oci-layout");
          ociAndDocker[1] |= member.equals("manifest.json");
        });
    if (ociAndDocker[0]) {
      return "oci-archive";
    }
    if (ociAndDocker[1]) {
      return "docker-archive";
    }
    throw NoidException.invalid(subject + ": neither a docker save archive (no manifest.json)"
        + " nor an OCI archive (no oci-layout)");
  }

  /** skopeo's oci: and docker-archive: references end the path at the first colon. */
  private static void requireNoColon(String subject, Path path) {
    if (path.toString().contains(":")) {
      throw NoidException.invalid(subject + ": the path must not contain ':'");
    }
  }

  private static String hexOf(String digest) {
    return digest.startsWith("sha256:") ? digest.substring(7) : digest;
  }
}
