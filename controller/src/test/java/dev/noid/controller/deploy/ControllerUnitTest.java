package dev.noid.controller.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The shipped systemd unit lets the controller do what the code needs of it. An image import
 * (other than an ext4 file) keeps the image's file owners and refuses to run but as root
 * (ImageImporter.requireRoot); the unit ran the controller as the user noid with no
 * capabilities, so every such import was refused once installed as the docs say.
 */
class ControllerUnitTest {
  private static List<String> settings(String key) throws IOException {
    Path repo = Path.of(System.getProperty("noid.repo.dir", "..")).toAbsolutePath().normalize();
    List<String> values = new ArrayList<>();
    String unit = Files.readString(repo.resolve("deploy/systemd/noid-controller.service"))
        .replace("\\\n", " ");
    for (String line : unit.lines().toList()) {
      if (line.startsWith(key + "=")) {
        values.add(line.substring(key.length() + 1).strip());
      }
    }
    return values;
  }

  @Test
  void theControllerRunsAsRootAsImageImportsRequire() throws IOException {
    assertThat(settings("User")).allMatch(u -> u.isEmpty() || u.equals("root"));
  }

  @Test
  void itKeepsTheCapabilitiesThatWritingAnImagesFilesAsTheyAreNeeds() throws IOException {
    assertThat(settings("CapabilityBoundingSet")).hasSize(1);
    assertThat(settings("CapabilityBoundingSet").get(0).split("\\s+")).contains(
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_MKNOD", "CAP_SETFCAP")
        .doesNotContain("CAP_SYS_ADMIN");
    // Each of these takes one away: setuid programs, device nodes.
    assertThat(settings("RestrictSUIDSGID")).doesNotContain("true", "yes");
    assertThat(settings("PrivateDevices")).doesNotContain("true", "yes");
  }
}
