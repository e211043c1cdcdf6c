package dev.noid.agent.cloudhypervisor;

import dev.noid.agent.hypervisor.ChannelAlarm;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;

/**
 * HTTP/1.1 over a unix socket, one request per connection ({@code Connection: close}), which is
 * all Cloud Hypervisor's API server needs. {@code java.net.http} cannot dial unix sockets and
 * the libraries that can (Jetty's client, OkHttp with a socket factory) would bring a whole
 * HTTP stack for a dozen small bodies; see docs/decisions.md.
 *
 * <p>Every exchange has a time limit: a wedged VMM still accepts connections (the kernel
 * queues them) and never answers. When the limit passes the socket is closed under the
 * blocked read, which then fails with {@link TimeoutException}.
 */
public final class UnixHttpClient {
  private static final int MAX_HEADER_BYTES = 64 * 1024;
  private static final int MAX_BODY_BYTES = 16 * 1024 * 1024;

  /** A status and its body (empty for 204). */
  public record Response(int status, byte[] body) {
    public String text() {
      return new String(body, StandardCharsets.UTF_8);
    }
  }

  private final Path socket;
  private final Duration timeout;

  public UnixHttpClient(Path socket, Duration timeout) {
    this.socket = socket;
    this.timeout = timeout;
  }

  public Response send(String method, String path, byte[] body) throws IOException {
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ChannelAlarm alarm = ChannelAlarm.arm(ch, timeout);
      try {
        ch.connect(UnixDomainSocketAddress.of(socket));
        OutputStream out = Channels.newOutputStream(ch);
        StringBuilder head = new StringBuilder()
            .append(method).append(' ').append(path).append(" HTTP/1.1\r\n")
            .append("Host: localhost\r\n")
            .append("Accept: application/json\r\n")
            .append("Connection: close\r\n");
        if (body != null) {
          head.append("Content-Type: application/json\r\n");
        }
        head.append("Content-Length: ").append(body == null ? 0 : body.length).append("\r\n\r\n");
        out.write(head.toString().getBytes(StandardCharsets.US_ASCII));
        if (body != null) {
          out.write(body);
        }
        out.flush();
        return read(new java.io.BufferedInputStream(Channels.newInputStream(ch)));
      } catch (IOException e) {
        if (alarm.expired()) {
          throw new TimeoutException("the VMM did not answer " + method + " " + path + " within "
              + timeout.toMillis() + " ms");
        }
        throw e;
      } finally {
        alarm.disarm();
      }
    }
  }

  private static Response read(InputStream in) throws IOException {
    String statusLine = readLine(in);
    String[] parts = statusLine.split(" ", 3);
    if (parts.length < 2 || !parts[0].startsWith("HTTP/1.")) {
      throw new IOException("not an HTTP/1.x answer: '" + statusLine + "'");
    }
    int status;
    try {
      status = Integer.parseInt(parts[1]);
    } catch (NumberFormatException e) {
      throw new IOException("bad HTTP status line: '" + statusLine + "'");
    }
    long length = -1;
    int headerBytes = 0;
    String line;
    while (!(line = readLine(in)).isEmpty()) {
      headerBytes += line.length();
      if (headerBytes > MAX_HEADER_BYTES) {
        throw new IOException("HTTP headers longer than " + MAX_HEADER_BYTES + " bytes");
      }
      int colon = line.indexOf(':');
      if (colon > 0 && line.substring(0, colon).trim().toLowerCase(Locale.ROOT).equals("content-length")) {
        length = Long.parseLong(line.substring(colon + 1).trim());
      }
    }
    if (length > MAX_BODY_BYTES) {
      throw new IOException("HTTP body of " + length + " bytes is over the limit");
    }
    byte[] body = length >= 0 ? in.readNBytes((int) length) : in.readNBytes(MAX_BODY_BYTES);
    if (length >= 0 && body.length < length) {
      throw new IOException("connection closed after " + body.length + " of " + length + " body bytes");
    }
    return new Response(status, body);
  }

  private static String readLine(InputStream in) throws IOException {
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    int b;
    while ((b = in.read()) != '\n') {
      if (b < 0) {
        throw new IOException("connection closed in the middle of the HTTP answer");
      }
      if (line.size() > MAX_HEADER_BYTES) {
        throw new IOException("HTTP header line too long");
      }
      line.write(b);
    }
    String s = line.toString(StandardCharsets.ISO_8859_1);
    return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
  }

  /** The VMM did not answer in time: it is wedged, and the connection has been closed. */
  public static final class TimeoutException extends IOException {
    TimeoutException(String message) {
      super(message);
    }
  }
}
