package dev.noid.agent.cloudhypervisor;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.agent.cloudhypervisor.MigrationWire.Header;
import java.io.IOException;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The disk passes of a Cloud Hypervisor migration: whole first, then only what changed. */
@Timeout(60)
class DiskPassesTest {
  private static final int MIB = 1 << 20;

  @TempDir Path tmp;

  @Test
  void eachPassSendsWhatChangedAndTheTargetEndsEqual() throws Exception {
    Path source = tmp.resolve("source.qcow2");
    Path target = tmp.resolve("target.qcow2");
    Files.writeString(target, "an older file the first pass replaces");
    try (RandomAccessFile f = new RandomAccessFile(source.toFile(), "rw")) {
      f.setLength(3 * MIB + 5000);
      f.seek(10);
      f.write("header".getBytes());
      f.seek(2L * MIB + 7);
      f.write("data".getBytes());
      f.seek(3L * MIB + 4000);
      f.write("tail".getBytes());
    }
    try (PipedOutputStream toTarget = new PipedOutputStream();
        PipedInputStream atTarget = new PipedInputStream(toTarget, 4 * MIB);
        PipedOutputStream answers = new PipedOutputStream();
        PipedInputStream atSource = new PipedInputStream(answers);
        DiskReceiver receiver = new DiskReceiver(target, null, 64L << 20)) {
      CompletableFuture<Void> serving = CompletableFuture.runAsync(() -> {
        try {
          while (true) {
            Header h = MigrationWire.read(atTarget);
            if (receiver.apply(h, atTarget)) {
              MigrationWire.respond(answers, MigrationWire.OK);
            }
          }
        } catch (IOException ended) {
          // the source closed its end
        }
      });
      DiskPasses passes = new DiskPasses(source);

      passes.pass(toTarget, atSource);
      assertThat(passes.bytesSent()).as("chunks 0, 2 and the tail; chunk 1 is zeros")
          .isEqualTo(2L * MIB + MIB + 5000 - MIB);
      assertThat(Files.readAllBytes(target)).isEqualTo(Files.readAllBytes(source));

      try (RandomAccessFile f = new RandomAccessFile(source.toFile(), "rw")) {
        f.seek(MIB + 3);
        f.write("written meanwhile".getBytes());
        f.setLength(3 * MIB); // and the tail chunk dropped
      }
      long before = passes.bytesSent();
      passes.pass(toTarget, atSource);
      assertThat(passes.bytesSent() - before).as("only the chunk that changed").isEqualTo(MIB);
      receiver.finish();
      assertThat(Files.readAllBytes(target)).isEqualTo(Files.readAllBytes(source));
      toTarget.close();
      serving.join();
    }
  }

  @Test
  void aDiskOverItsLimitOrAChunkBeyondTheAnnouncedSizeIsRefused() throws Exception {
    Path target = tmp.resolve("target");
    try (DiskReceiver receiver = new DiskReceiver(target, null, 64L << 20)) {
      byte[] size = MigrationWire.u64(100);
      receiver.apply(Header.of(MigrationWire.DISK_SIZE, 8), new java.io.ByteArrayInputStream(size));
      byte[] chunk = new byte[8 + 64];
      System.arraycopy(MigrationWire.u64(50), 0, chunk, 0, 8);
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> receiver.apply(
          Header.of(MigrationWire.DISK_CHUNK, chunk.length), new java.io.ByteArrayInputStream(chunk)))
          .isInstanceOf(IOException.class).hasMessageContaining("beyond the disk's 100 bytes");
    }
  }
}
