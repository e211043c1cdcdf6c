package dev.noid.agent.cloudhypervisor;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.URI;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The fake VMM's live migration, as Cloud Hypervisor's vmm/src/lib.rs does it over a unix
 * socket (this fake speaks no tcp: and no TLS of its own).
 * <ul>
 *   <li>Send: answers at once and migrates on a worker. Start, Config ({@code vm_config},
 *       {@code common_cpuid}, {@code memory_manager_data}), all of RAM, one dirty round, then
 *       the guest paused, a last dirty round, State, Complete (or CompletePaused for a guest
 *       paused before). Success shuts the VM down and ends the VMM; any failure resumes a guest
 *       that was running.
 *   <li>Receive: answers only at the end. Start must come first with protocol version 0;
 *       Config makes the memory (and the serial socket must be free); Memory writes ranges that
 *       must lie inside RAM; State opens every file of the config, as a create does, and makes
 *       the guest, paused; Complete resumes it. Any refused step answers Error and aborts, as
 *       does Abandon; the VMM then has no VM.
 * </ul>
 * RAM is one region at gpa 0. Its first page holds {@code FAKE-RAM <hostname>}: the receiver
 * checks it against the state, so memory that arrives altered is caught.
 */
final class FakeMigration {
  private static final ObjectMapper JSON = new ObjectMapper();
  static final int PAGE = 4096;

  private FakeMigration() {}

  static byte[] firstPage(String hostname) {
    byte[] page = new byte[PAGE];
    byte[] text = ("FAKE-RAM " + hostname + "\n").getBytes(StandardCharsets.UTF_8);
    System.arraycopy(text, 0, page, 0, text.length);
    return page;
  }

  static Path unixPath(String url) throws IOException {
    if (!url.startsWith("unix:")) {
      throw new IOException("this fake migrates over unix: sockets only, not " + url);
    }
    return Path.of(URI.create("file://" + url.substring("unix:".length())).getPath());
  }

  /** The sender's side; throws on any failure (the caller resumes the guest). */
  static void send(Path socket, ObjectNode config, long memory, String hostname, int vcpus,
      boolean wasRunning, Runnable pause) throws IOException {
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.connect(UnixDomainSocketAddress.of(socket));
      InputStream in = new BufferedInputStream(Channels.newInputStream(ch));
      OutputStream out = new BufferedOutputStream(Channels.newOutputStream(ch), 1 << 16);
      out.write(ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN)
          .putShort((short) FakeMigrationWire.START).putShort((short) 0).array());
      out.flush();
      expectOk(in, "Error starting migration");
      ObjectNode m = JSON.createObjectNode();
      m.set("vm_config", config);
      m.putArray("common_cpuid");
      m.putObject("memory_manager_data").putArray("memory_ranges").addObject().put("gpa", 0)
          .put("size", memory);
      byte[] c = JSON.writeValueAsBytes(m);
      FakeMigrationWire.write(out, FakeMigrationWire.CONFIG, c.length);
      out.write(c);
      out.flush();
      expectOk(in, "Error sending config");
      byte[] first = firstPage(hostname);
      sendMemory(out, in, 0, memory, first); // all of it
      sendMemory(out, in, PAGE, PAGE, null); // what the guest dirtied meanwhile
      if (wasRunning) {
        pause.run();
      }
      sendMemory(out, in, 0, PAGE, first); // the last dirty round, paused
      ObjectNode snapshot = JSON.createObjectNode();
      snapshot.putObject("guest").put("hostname", hostname);
      snapshot.put("vcpus", vcpus);
      byte[] s = JSON.writeValueAsBytes(snapshot);
      FakeMigrationWire.write(out, FakeMigrationWire.STATE, s.length);
      out.write(s);
      out.flush();
      expectOk(in, "Error sending state");
      FakeMigrationWire.write(out, wasRunning ? FakeMigrationWire.COMPLETE
          : FakeMigrationWire.COMPLETE_PAUSED, 0);
      expectOk(in, "Error completing migration");
    }
  }

  private static void sendMemory(OutputStream out, InputStream in, long gpa, long length,
      byte[] firstPage) throws IOException {
    FakeMigrationWire.write(out, FakeMigrationWire.MEMORY, 16);
    out.write(FakeMigrationWire.range(gpa, length));
    byte[] zeros = new byte[1 << 16];
    long left = length;
    if (firstPage != null && gpa == 0) {
      out.write(firstPage);
      left -= PAGE;
    }
    while (left > 0) {
      int n = (int) Math.min(zeros.length, left);
      out.write(zeros, 0, n);
      left -= n;
    }
    out.flush();
    expectOk(in, "Error sending memory");
  }

  private static void expectOk(InputStream in, String what) throws IOException {
    FakeMigrationWire.Frame r = FakeMigrationWire.read(in);
    if (r.code() != FakeMigrationWire.OK) {
      throw new IOException(what + ": Receiver reported error: aborting migration");
    }
  }

  /** What the receiver made of a whole stream. */
  record Received(ObjectNode config, String hostname, boolean resume) {}

  /** The receiving VMM's decisions, one per step that makes something. */
  interface Target {
    /** Config: refuse a config this VMM would not create (the serial socket in use, ...). */
    void configure(ObjectNode vmConfig) throws IOException;

    /** State: open the config's files and make the guest, paused. */
    void restore(ObjectNode vmConfig, String hostname) throws IOException;

    /** Complete resumes the guest; CompletePaused leaves it paused. */
    void complete(boolean resume) throws IOException;
  }

  /** The receiver's side: null when aborted (by Abandon or a refused step). */
  static Received receive(Path socket, Target target) throws IOException {
    try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      server.bind(UnixDomainSocketAddress.of(socket));
      try (SocketChannel ch = server.accept()) {
        Files.deleteIfExists(socket);
        return loop(new BufferedInputStream(Channels.newInputStream(ch), 1 << 16),
            Channels.newOutputStream(ch), target);
      }
    }
  }

  private static Received loop(InputStream in, OutputStream out, Target target)
      throws IOException {
    String state = "Established";
    ObjectNode config = null;
    long memory = 0;
    byte[] page0 = null;
    String hostname = null;
    while (true) {
      FakeMigrationWire.Frame f = FakeMigrationWire.read(in);
      if (f.code() == 0 || f.code() > FakeMigrationWire.MAX_COMMAND) {
        throw new IOException("received request with unknown command");
      }
      if (f.code() == FakeMigrationWire.ABANDON) {
        FakeMigrationWire.write(out, FakeMigrationWire.OK, 0);
        return null;
      }
      try {
        switch (state + " " + f.code()) {
          case "Established 1" -> {
            if (f.version() != 0) {
              throw new IOException("Migration protocol version " + f.version()
                  + " doesn't match supported versions: 0");
            }
            state = "Started";
          }
          case "Started 2" -> {
            JsonNode m = JSON.readTree(FakeMigrationWire.bytes(in, f.length()));
            if (!(m.get("vm_config") instanceof ObjectNode c) || !m.has("memory_manager_data")) {
              throw new IOException("Error deserialising config");
            }
            target.configure(c);
            config = c;
            memory = c.path("memory").path("size").asLong(512L << 20);
            state = "Configured";
          }
          case "Configured 4" -> {
            byte[] table = FakeMigrationWire.bytes(in, f.length());
            ByteBuffer t = ByteBuffer.wrap(table).order(ByteOrder.LITTLE_ENDIAN);
            while (t.remaining() >= 16) {
              long gpa = t.getLong();
              long len = t.getLong();
              if (gpa < 0 || len < 0 || gpa + len > memory) {
                throw new IOException("GuestMemory error: range " + gpa + "+" + len
                    + " is outside guest memory");
              }
              byte[] data = in.readNBytes((int) Math.min(len, PAGE));
              if (gpa == 0 && len >= PAGE) {
                page0 = data;
              }
              in.skipNBytes(len - data.length);
            }
          }
          case "Configured 3" -> {
            JsonNode snapshot = JSON.readTree(FakeMigrationWire.bytes(in, f.length()));
            hostname = snapshot.path("guest").path("hostname").asText(null);
            if (hostname == null || page0 == null
                || !Arrays.equals(page0, firstPage(hostname))) {
              throw new IOException("Error restoring VM: guest memory does not match its state");
            }
            target.restore(config, hostname);
            state = "StateReceived";
          }
          case "StateReceived 5", "StateReceived 8" -> {
            target.complete(f.code() == FakeMigrationWire.COMPLETE);
            FakeMigrationWire.write(out, FakeMigrationWire.OK, 0);
            return new Received(config, hostname, f.code() == FakeMigrationWire.COMPLETE);
          }
          default -> throw new IOException("Can't handle command " + f.code()
              + " in current receive state " + state);
        }
      } catch (IOException | RuntimeException e) {
        System.err.println("fake cloud-hypervisor: Migration aborted as migration command "
            + f.code() + " failed: " + e.getMessage());
        FakeMigrationWire.write(out, FakeMigrationWire.ERROR, 0);
        return null;
      }
      FakeMigrationWire.write(out, FakeMigrationWire.OK, 0);
    }
  }
}
