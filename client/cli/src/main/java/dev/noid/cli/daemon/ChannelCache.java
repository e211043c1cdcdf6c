package dev.noid.cli.daemon;

import dev.noid.cli.Connections;
import dev.noid.client.NoidClient;
import io.grpc.ManagedChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * Open TLS channels of the daemon, one per controller address (or comma list of the
 * controllers of a cluster, followed to its leader by the one channel) and CA file (its content's
 * identity: path, size, modification time), shared by every command whatever its token: the
 * handshake and the certificate check happen once, not per command.
 */
final class ChannelCache implements Connections {
  private final ConcurrentMap<String, ManagedChannel> channels = new ConcurrentHashMap<>();

  @Override
  public NoidClient client(String url, String token, Path caFile) {
    String key = url + "|" + identity(caFile);
    ManagedChannel ch = channels.compute(key, (k, old) ->
        old != null && !old.isShutdown() ? old : NoidClient.newChannel(url, caFile, 4));
    return NoidClient.builder().sharedChannel(ch).token(token).deadline(Duration.ofMinutes(10)).build();
  }

  int size() {
    return channels.size();
  }

  private static String identity(Path caFile) {
    if (caFile == null) {
      return "-";
    }
    try {
      return caFile + "|" + Files.size(caFile) + "|" + Files.getLastModifiedTime(caFile).toMillis();
    } catch (java.io.IOException e) {
      return caFile.toString();  // the channel's own read reports it
    }
  }

  void closeAll() {
    channels.values().forEach(ManagedChannel::shutdownNow);
  }
}
