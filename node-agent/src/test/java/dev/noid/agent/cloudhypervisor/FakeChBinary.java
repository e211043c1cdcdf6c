package dev.noid.agent.cloudhypervisor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Writes an executable {@code cloud-hypervisor} into a test directory that runs
 * {@link FakeCloudHypervisor} on this test's classpath, so the driver starts it exactly as it
 * starts the real binary (same flags, own process, own session).
 */
public final class FakeChBinary {
  private FakeChBinary() {}

  public static Path write(Path dir) {
    Path script = dir.resolve("cloud-hypervisor");
    String java = ProcessHandle.current().info().command().orElse("java");
    String text = "#!/bin/sh\n"
        + "# FakeCloudHypervisor standing in for the real VMM (tests only)\n"
        + "exec '" + java + "' -XX:TieredStopAtLevel=1 -Xss512k -cp '"
        + System.getProperty("java.class.path") + "' "
        + FakeCloudHypervisor.class.getName() + " \"$@\"\n";
    try {
      Files.createDirectories(dir);
      Files.writeString(script, text);
      Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return script;
  }
}
