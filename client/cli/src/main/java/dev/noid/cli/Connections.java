package dev.noid.cli;

import dev.noid.client.NoidClient;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Where commands get their client. A one-shot process builds a fresh channel; the daemon keeps
 * channels open between commands (keyed by address and CA), which is most of its speed.
 */
public interface Connections {
  NoidClient client(String url, String token, Path caFile);

  /** A new channel per client, closed with it. */
  Connections FRESH = (url, token, caFile) -> {
    NoidClient.Builder b = NoidClient.builder().target(url).token(token).deadline(Duration.ofMinutes(10));
    if (caFile != null) {
      b.trustedCa(caFile);
    }
    return b.build();
  };
}
