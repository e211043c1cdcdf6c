package dev.noid.controller;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.noid.common.config.ConfigException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Issue 19 fuzzing: the controller's config file (the agent's is read by the same
 * ConfigFileArguments). Any content is either read or refused with a ConfigException naming
 * the file and the line, never another exception. CI replays the corpus in
 * src/test/resources/dev/noid/controller/ConfigFileFuzzTestInputs.
 */
class ConfigFileFuzzTest {
  @FuzzTest(maxDuration = "2m")
  void anyConfigFile(byte[] content) throws IOException {
    Path file = Files.createTempFile("noid-controller", ".conf");
    try {
      Files.write(file, content);
      ControllerConfigFile.read(file);
    } catch (ConfigException refused) {
      // a clear refusal is the answer to a bad file
    } finally {
      Files.deleteIfExists(file);
    }
  }
}
