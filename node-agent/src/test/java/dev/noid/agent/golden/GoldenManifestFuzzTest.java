package dev.noid.agent.golden;

import static org.junit.jupiter.api.Assertions.assertNotNull;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;

/**
 * Issue 19 fuzzing: any content as a golden snapshot's {@code manifest.json}. Reading it either
 * gives a complete manifest (what {@link GoldenStore#find} then dereferences) or fails with an
 * {@link IOException}, which the store reports as a broken snapshot; nothing else escapes. CI
 * replays the corpus in src/test/resources/dev/noid/agent/golden/GoldenManifestFuzzTestInputs.
 */
class GoldenManifestFuzzTest {
  private static Path dir;

  @BeforeAll
  static void dir() throws IOException {
    dir = Files.createTempDirectory("noid-golden-fuzz");
  }

  @FuzzTest(maxDuration = "2m")
  void aManifestIsCompleteOrUnreadable(byte[] content) throws IOException {
    Files.write(dir.resolve(GoldenManifest.FILE), content);
    GoldenManifest m;
    try {
      m = GoldenManifest.read(dir);
    } catch (IOException refused) {
      return;
    }
    assertNotNull(m, "read gave no manifest");
    assertNotNull(m.buildId(), "buildId");
    assertNotNull(m.key(), "key");
    assertNotNull(m.version(), "version");
    assertNotNull(m.sha256(), "sha256");
  }
}
