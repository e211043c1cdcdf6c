package dev.noid.agent.cloudhypervisor;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * A stand-in for the {@code cloud-hypervisor} binary, which needs hardware KVM these machines
 * lack. It takes the real command line ({@code --api-socket path=..., --event-monitor
 * path=...}), binds the API socket, checks every request against Cloud Hypervisor's
 * openapi.yaml ({@link ApiSpec}) and then behaves as NOTES.md describes ({@link FakeVmm}).
 * Started by a test through a generated script ({@link FakeChBinary}), exactly as the driver
 * starts the real VMM.
 */
public final class FakeCloudHypervisor {
  private static final int MAX_BODY = 1 << 20;

  private final ApiSpec spec = new ApiSpec();
  private final FakeVmm vmm;
  private final ServerSocketChannel server;

  private FakeCloudHypervisor(Path apiSocket, Path eventMonitor) throws IOException {
    this.vmm = new FakeVmm(new FakeEvents(eventMonitor), FakeVmm.openedLog(apiSocket));
    this.server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    server.bind(UnixDomainSocketAddress.of(apiSocket));
  }

  public static void main(String[] args) throws IOException {
    Path api = null;
    Path events = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--version", "-V" -> {
          System.out.println("cloud-hypervisor v48.0.0 (FakeCloudHypervisor)");
          return;
        }
        case "--api-socket" -> api = pathArg(args, ++i, "--api-socket");
        case "--event-monitor" -> events = pathArg(args, ++i, "--event-monitor");
        default -> usage("unknown argument " + args[i]);
      }
    }
    if (api == null) {
      usage("--api-socket path=... is required (this fake runs no VM from the command line)");
    }
    FakeCloudHypervisor fake = new FakeCloudHypervisor(api, events);
    fake.vmm.events().emit("vmm", "starting");
    fake.serve();
  }

  private static Path pathArg(String[] args, int i, String flag) {
    if (i >= args.length || !args[i].startsWith("path=")) {
      usage(flag + " takes path=<file>");
    }
    return Path.of(args[i].substring("path=".length()));
  }

  private static void usage(String problem) {
    System.err.println("cloud-hypervisor: " + problem);
    System.exit(1);
  }

  private void serve() throws IOException {
    while (true) {
      SocketChannel client = server.accept();
      Thread.ofVirtual().start(() -> handle(client));
    }
  }

  // One request per connection, as the driver sends them (Connection: close).
  private void handle(SocketChannel client) {
    try (client) {
      InputStream in = new BufferedInputStream(Channels.newInputStream(client));
      OutputStream out = Channels.newOutputStream(client);
      String[] requestLine = readLine(in).split(" ");
      String contentType = null;
      int length = 0;
      String line;
      while (!(line = readLine(in)).isEmpty()) {
        int colon = line.indexOf(':');
        String name = line.substring(0, Math.max(colon, 0)).trim().toLowerCase(Locale.ROOT);
        String value = line.substring(colon + 1).trim();
        if (name.equals("content-length")) {
          length = Integer.parseInt(value);
        } else if (name.equals("content-type")) {
          contentType = value;
        }
      }
      if (requestLine.length != 3 || length > MAX_BODY) {
        respond(out, "GET", "/", FakeVmm.Answer.error(400, "malformed HTTP request"));
        return;
      }
      String method = requestLine[0];
      String path = requestLine[1];
      byte[] body = in.readNBytes(length);
      FakeVmm.Answer answer;
      List<String> problems = spec.checkRequest(method, path, contentType, body);
      if (!problems.isEmpty()) {
        answer = FakeVmm.Answer.error(400, problems.toArray(String[]::new));
      } else if (!path.startsWith(ApiSpec.BASE_PATH + "/")) {
        answer = FakeVmm.Answer.error(404, "unknown path " + path);
      } else {
        answer = vmm.handle(method, path.substring(ApiSpec.BASE_PATH.length() + 1), body);
      }
      respond(out, method, path, answer);
      if (answer.exitAfter()) {
        vmm.events().emit("vmm", "shutdown");
        System.exit(0);
      }
    } catch (IOException | RuntimeException e) {
      System.err.println("fake cloud-hypervisor: " + e);
    }
  }

  private void respond(OutputStream out, String method, String path, FakeVmm.Answer a)
      throws IOException {
    // Successful answers must match the spec's schemas. Error answers carry the error chain,
    // which the spec does not describe (NOTES.md); Answer.error makes them JSON string arrays.
    List<String> wrong = a.status() < 300 ? spec.checkResponse(method, path, a.status(), a.body())
        : List.of();
    if (!wrong.isEmpty()) {
      // A bug in the fake, not in the driver: make it loud.
      System.err.println("fake cloud-hypervisor answer breaks the spec: " + wrong);
      a = FakeVmm.Answer.error(599, "fake answer breaks openapi.yaml: " + wrong);
    }
    String reason = switch (a.status()) {
      case 200 -> "OK";
      case 204 -> "No Content";
      case 400 -> "Bad Request";
      case 404 -> "Not Found";
      case 409 -> "Conflict";
      default -> "Internal Server Error";
    };
    StringBuilder head = new StringBuilder("HTTP/1.1 " + a.status() + " " + reason + "\r\n");
    head.append("Server: Cloud Hypervisor API\r\nConnection: close\r\n");
    if (a.body().length > 0) {
      head.append("Content-Type: application/json\r\n");
    }
    head.append("Content-Length: ").append(a.body().length).append("\r\n\r\n");
    out.write(head.toString().getBytes(StandardCharsets.US_ASCII));
    out.write(a.body());
    out.flush();
  }

  private static String readLine(InputStream in) throws IOException {
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    int b;
    while ((b = in.read()) != '\n') {
      if (b < 0) {
        throw new IOException("connection closed mid-request");
      }
      line.write(b);
    }
    String s = line.toString(StandardCharsets.ISO_8859_1);
    return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
  }

  static boolean exists(Path p) {
    return Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS);
  }
}
