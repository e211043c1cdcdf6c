package dev.noid.agent.golden;

import dev.noid.agent.image.Image;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * The content digest of an image as a golden snapshot depends on it: kernel, initramfs, disk
 * template and command line. A rebuilt image under the same name gets a new digest, so a
 * snapshot of the old one is stale.
 */
public final class ImageDigest {
  private final FileDigests files;

  public ImageDigest(FileDigests files) {
    this.files = files;
  }

  public String of(Image image) {
    MessageDigest d;
    try {
      d = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
    try {
      for (Path p : Arrays.asList(image.kernel(), image.initramfs())) {
        d.update((p == null ? "-" : files.sha256(p)).getBytes(StandardCharsets.US_ASCII));
        d.update((byte) '\n');
      }
      // A fleet image's name carries its digest, checked when it was pulled: no need to read
      // gigabytes again.
      String disk = image.overlay() ? image.name().substring(image.name().indexOf('@') + 1)
          : image.disk() == null ? "-" : files.sha256(image.disk());
      d.update(disk.getBytes(StandardCharsets.US_ASCII));
      d.update((byte) '\n');
    } catch (IOException e) {
      throw new AgentException(Code.INTERNAL, "cannot read image '" + image.name() + "': "
          + e.getMessage(), e);
    }
    d.update((image.cmdline() + "\n" + image.minMemMib()).getBytes(StandardCharsets.UTF_8));
    return HexFormat.of().formatHex(d.digest());
  }
}
