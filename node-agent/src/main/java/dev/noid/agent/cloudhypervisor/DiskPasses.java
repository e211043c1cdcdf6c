package dev.noid.agent.cloudhypervisor;

import dev.noid.agent.cloudhypervisor.MigrationWire.Header;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The source's copy of a VM's disk file before the switchover (Cloud Hypervisor moves memory
 * and devices, not disks): the first pass sends every chunk that is not zeros, each later pass
 * only the chunks whose SHA-256 changed since the last. The final pass runs while the VMM holds
 * the guest paused, so the target's copy is then exactly the source's.
 */
final class DiskPasses {
  static final int CHUNK = 1 << 20;

  private final Path disk;
  private final List<byte[]> sent = new ArrayList<>();
  private long bytesSent;

  DiskPasses(Path disk) {
    this.disk = disk;
  }

  long bytesSent() {
    return bytesSent;
  }

  /** One pass: the changed chunks, then the pass's end, answered once the target has them. */
  void pass(OutputStream link, InputStream answers) throws IOException {
    MessageDigest sha = sha256();
    try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "r")) {
      long size = f.length();
      MigrationWire.write(link, Header.of(MigrationWire.DISK_SIZE, 8));
      link.write(MigrationWire.u64(size));
      byte[] buf = new byte[CHUNK];
      for (int i = 0; (long) i * CHUNK < size; i++) {
        long offset = (long) i * CHUNK;
        int n = (int) Math.min(CHUNK, size - offset);
        f.seek(offset);
        f.readFully(buf, 0, n);
        sha.update(buf, 0, n);
        byte[] digest = sha.digest();
        boolean known = i < sent.size();
        if (known ? Arrays.equals(sent.get(i), digest) : isZero(buf, n)) {
          if (!known) {
            sent.add(digest); // the target's new file reads zeros there
          }
          continue;
        }
        if (known) {
          sent.set(i, digest);
        } else {
          sent.add(digest);
        }
        MigrationWire.write(link, Header.of(MigrationWire.DISK_CHUNK, 8L + n));
        link.write(MigrationWire.u64(offset));
        link.write(buf, 0, n);
        bytesSent += n;
      }
      // A file that shrank: the digests of chunks past its end are stale.
      int chunks = (int) ((size + CHUNK - 1) / CHUNK);
      while (sent.size() > chunks) {
        sent.remove(sent.size() - 1);
      }
    }
    MigrationWire.write(link, Header.of(MigrationWire.DISK_PASS_END, 0));
    link.flush();
    Header answer = MigrationWire.read(answers);
    if (answer.code() != MigrationWire.OK) {
      throw new IOException("the target could not write the VM's disk");
    }
  }

  private static boolean isZero(byte[] b, int n) {
    for (int i = 0; i < n; i++) {
      if (b[i] != 0) {
        return false;
      }
    }
    return true;
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
