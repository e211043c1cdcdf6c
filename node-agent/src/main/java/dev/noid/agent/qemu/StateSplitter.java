package dev.noid.agent.qemu;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Takes guest RAM out of QEMU's migration stream as it is saved: every page of the main RAM
 * block ({@code pc.ram}) goes to a {@link MainPages} that writes it to a memory file or keeps it
 * as a difference from a base; what is left is a stream QEMU loads with that memory file mapped
 * privately under the guest ({@code -mem-path}), so a restore reads only device state and the
 * pages that differ, and the guest faults the rest in from the file as it touches it.
 *
 * <p>The format is QEMU 7.2's (migration/savevm.c, migration/ram.c): a header, a configuration
 * section, the RAM section's start (its block list), RAM page records in PART sections and the
 * END section, then device sections. Only what this parser knows is accepted: an unknown
 * section or page flag ends the save with an error rather than a stream QEMU might misread.
 * The saved stream keeps the original start section and device sections byte for byte and puts
 * all kept page records in one END section.
 */
final class StateSplitter {
  static final String MAIN_BLOCK = "pc.ram";
  static final int PAGE_SIZE = 4096;

  private static final int MAGIC = 0x5145564d;
  private static final int FILE_VERSION = 3;
  private static final int SECTION_START = 0x01;
  private static final int SECTION_PART = 0x02;
  private static final int SECTION_END = 0x03;
  private static final int CONFIGURATION = 0x07;
  private static final int SUBSECTION = 0x05;
  private static final int FOOTER = 0x7e;
  private static final long FLAG_ZERO = 0x02;
  private static final long FLAG_MEM_SIZE = 0x04;
  private static final long FLAG_PAGE = 0x08;
  private static final long FLAG_EOS = 0x10;
  private static final long FLAG_CONTINUE = 0x20;
  private static final long FLAGS_MASK = PAGE_SIZE - 1;

  /** Receives each page of the main block; true keeps it in the saved stream. */
  interface MainPages {
    /** {@code page} holds the page's 4096 bytes (a zero record arrives filled). */
    boolean accept(long offset, byte[] page, boolean zeroRecord) throws IOException;
  }

  /** What a split saw: pages of the main block, and those of it kept in the stream. */
  record Counts(long mainBytes, long mainPages, long keptPages) {}

  private final DataInputStream in;
  private final DataOutputStream out;
  private final MainPages main;
  private final Path spill;
  private DataOutputStream kept;
  private int ramSection = -1;
  private long mainBytes;
  private long mainPages;
  private long keptPages;
  private String lastBlock;
  private final byte[] page = new byte[PAGE_SIZE];
  private final java.util.BitSet seen = new java.util.BitSet();

  private StateSplitter(InputStream in, OutputStream out, MainPages main, Path spill) {
    this.in = new DataInputStream(in);
    this.out = new DataOutputStream(out);
    this.main = main;
    this.spill = spill;
  }

  /**
   * Reads a whole stream from {@code in} and writes the stream without the main block's
   * unkept pages to {@code out}. Kept records wait in {@code spill} (deleted after) until the
   * END section, which comes after all of them.
   */
  static Counts split(InputStream in, OutputStream out, MainPages main, Path spill)
      throws IOException {
    StateSplitter s = new StateSplitter(in, out, main, spill);
    try {
      s.run();
    } finally {
      try {
        if (s.kept != null) {
          s.kept.close(); // flushes: may fail as the write before it did, on a full disk
        }
      } catch (IOException e) {
        // the failure that stopped the run is the one to report
      } finally {
        Files.deleteIfExists(spill);
      }
    }
    return new Counts(s.mainBytes, s.mainPages, s.keptPages);
  }

  private void run() throws IOException {
    expect(in.readInt() == MAGIC, "not a QEMU migration stream");
    expect(in.readInt() == FILE_VERSION, "unknown stream version");
    out.writeInt(MAGIC);
    out.writeInt(FILE_VERSION);
    expect(in.readUnsignedByte() == CONFIGURATION, "no configuration section");
    int len = in.readInt();
    expect(len >= 0 && len < 256, "configuration name of " + len + " bytes");
    out.writeByte(CONFIGURATION);
    out.writeInt(len);
    out.write(in.readNBytes(len));
    kept = new DataOutputStream(new java.io.BufferedOutputStream(Files.newOutputStream(spill),
        1 << 20));
    while (true) {
      int type = in.readUnsignedByte();
      switch (type) {
        case SUBSECTION -> throw new IOException("QEMU stream: a configuration subsection"
            + " (a migration capability this agent does not set)");
        case SECTION_START -> ramStart();
        case SECTION_PART, SECTION_END -> {
          int id = in.readInt();
          expect(id == ramSection, "section " + id + " is not the RAM section");
          pages(id);
          if (type == SECTION_END) {
            writeEnd(id);
            in.transferTo(out); // the device sections, byte for byte
            out.flush();
            return;
          }
        }
        default -> throw new IOException("QEMU stream: unexpected section type " + type
            + " before the end of RAM");
      }
    }
  }

  private void ramStart() throws IOException {
    int id = in.readInt();
    String name = string();
    int instance = in.readInt();
    int version = in.readInt();
    expect("ram".equals(name) && ramSection < 0, "an iterable section '" + name + "'");
    ramSection = id;
    out.writeByte(SECTION_START);
    out.writeInt(id);
    writeString(out, name);
    out.writeInt(instance);
    out.writeInt(version);
    long header = in.readLong();
    expect((header & FLAGS_MASK) == FLAG_MEM_SIZE, "RAM section without its block list");
    out.writeLong(header);
    long remaining = header & ~FLAGS_MASK;
    while (remaining > 0) {
      String block = string();
      long length = in.readLong();
      writeString(out, block);
      out.writeLong(length);
      if (MAIN_BLOCK.equals(block)) {
        mainBytes = length;
      }
      remaining -= length;
    }
    expect(remaining == 0, "RAM block lengths do not add up");
    expect(in.readLong() == FLAG_EOS, "RAM block list not ended");
    out.writeLong(FLAG_EOS);
    footer(id, out);
  }

  private void pages(int id) throws IOException {
    while (true) {
      long addr = in.readLong();
      long flags = addr & FLAGS_MASK;
      long offset = addr & ~FLAGS_MASK;
      if ((flags & FLAG_EOS) != 0) {
        expect(flags == FLAG_EOS, "end of RAM records with flags " + flags);
        footer(id, null);
        return;
      }
      expect((flags & ~(FLAG_ZERO | FLAG_PAGE | FLAG_CONTINUE)) == 0
          && ((flags & FLAG_ZERO) == 0) != ((flags & FLAG_PAGE) == 0),
          "RAM record flags " + flags + " (compression and XBZRLE are never enabled here)");
      if ((flags & FLAG_CONTINUE) == 0) {
        lastBlock = string();
      }
      expect(lastBlock != null, "RAM record with no block");
      boolean zero = (flags & FLAG_ZERO) != 0;
      if (zero) {
        java.util.Arrays.fill(page, (byte) in.readUnsignedByte());
      } else {
        in.readFully(page);
      }
      boolean keep = true;
      if (MAIN_BLOCK.equals(lastBlock)) {
        // Paused, QEMU sends each page once; a second copy would make a diff ambiguous.
        long index = offset / PAGE_SIZE;
        expect(offset + PAGE_SIZE <= mainBytes && index < Integer.MAX_VALUE
            && !seen.get((int) index), "RAM page at " + offset + " out of range or sent twice");
        seen.set((int) index);
        mainPages++;
        keep = main.accept(offset, page, zero);
        if (keep) {
          keptPages++;
        }
      }
      if (keep) {
        kept.writeLong(offset | (zero ? FLAG_ZERO : FLAG_PAGE));
        writeString(kept, lastBlock);
        if (zero) {
          kept.writeByte(page[0]);
        } else {
          kept.write(page);
        }
      }
    }
  }

  private void writeEnd(int id) throws IOException {
    // A stream that saved only part of the RAM would restore a guest with holes in it.
    expect(mainBytes > 0, "no " + MAIN_BLOCK + " RAM block");
    expect(seen.cardinality() == mainBytes / PAGE_SIZE, "RAM pages " + seen.cardinality()
        + " of " + mainBytes / PAGE_SIZE + " saved");
    kept.close();
    kept = null;
    out.writeByte(SECTION_END);
    out.writeInt(id);
    try (InputStream k = Files.newInputStream(spill)) {
      k.transferTo(out);
    }
    out.writeLong(FLAG_EOS);
    out.writeByte(FOOTER);
    out.writeInt(id);
  }

  // Every section QEMU 7.2 writes for a q35 machine ends in a footer naming it.
  private void footer(int id, DataOutputStream copy) throws IOException {
    expect(in.readUnsignedByte() == FOOTER && in.readInt() == id, "section " + id
        + " without its footer");
    if (copy != null) {
      copy.writeByte(FOOTER);
      copy.writeInt(id);
    }
  }

  private String string() throws IOException {
    int len = in.readUnsignedByte();
    byte[] b = in.readNBytes(len);
    if (b.length != len) {
      throw new EOFException("QEMU stream ended inside a name");
    }
    return new String(b, StandardCharsets.US_ASCII);
  }

  private static void writeString(DataOutputStream o, String s) throws IOException {
    byte[] b = s.getBytes(StandardCharsets.US_ASCII);
    o.writeByte(b.length);
    o.write(b);
  }

  private static void expect(boolean ok, String what) throws IOException {
    if (!ok) {
      throw new IOException("QEMU stream: " + what);
    }
  }
}
