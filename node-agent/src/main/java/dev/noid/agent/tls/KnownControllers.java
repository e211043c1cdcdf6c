package dev.noid.agent.tls;

import dev.noid.agent.config.AgentConfig;
import dev.noid.client.ControllerAddresses;
import dev.noid.client.HostPort;
import dev.noid.common.tls.Pem;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.ManagedChannelBuilder;
import jakarta.inject.Inject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The controllers this agent talks to: those configured ({@code --controller}, one address or a
 * comma list) and those the cluster named at join (JoinResponse.controllers), saved next to the
 * node certificate so that a restart still knows them. Channels over several addresses follow
 * the leader (see {@link ControllerAddresses}); with one address the channel is the plain one
 * the agent always used.
 */
public final class KnownControllers {
  /** In the TLS directory: one host:port a line, as the cluster listed them at join. */
  static final String FILE = "controllers";
  private static final Logger log = LoggerFactory.getLogger(KnownControllers.class);

  private final String configured;
  private final Path file;

  public KnownControllers(String configured, Path tlsDir) {
    this.configured = configured;
    this.file = tlsDir.resolve(FILE);
  }

  @Inject
  public KnownControllers(AgentConfig config) {
    this(config.controller(), config.tlsDir());
  }

  /** Saves what the cluster listed at join; an empty list (an older controller) keeps none. */
  void learn(List<String> controllers) {
    List<String> valid = new ArrayList<>();
    for (String c : controllers) {
      try {
        valid.add(HostPort.parse(c).toString());
      } catch (IllegalArgumentException e) {
        log.warn("the cluster listed an unusable controller address '{}': {}", c, e.getMessage());
      }
    }
    if (!valid.isEmpty()) {
      Pem.write(file, String.join("\n", valid) + "\n", false);
    }
  }

  /** The addresses learned at join, none before a join. */
  List<HostPort> learned() {
    if (!Files.isRegularFile(file)) {
      return List.of();
    }
    List<HostPort> out = new ArrayList<>();
    for (String line : Pem.read(file).split("\n")) {
      if (!line.isBlank()) {
        out.add(HostPort.parse(line));
      }
    }
    return out;
  }

  /** Configured addresses first (the first names the TLS authority), then the learned ones. */
  public List<HostPort> addresses() {
    Set<HostPort> all = new LinkedHashSet<>();
    if (configured != null) {
      all.addAll(ControllerAddresses.parse(configured));
    }
    all.addAll(learned());
    return List.copyOf(all);
  }

  /** For logs: the configured address, or every address when there are several. */
  public String describe() {
    List<HostPort> all = addresses();
    return all.size() > 1 ? ControllerAddresses.join(all) : String.valueOf(configured);
  }

  /** A channel to the configured and learned controllers, following the leader. */
  public ManagedChannelBuilder<?> channelBuilder(ChannelCredentials credentials) {
    return builder(configured, addresses(), credentials);
  }

  /** A channel to the configured controllers alone: a join must not trust an old list. */
  static ManagedChannelBuilder<?> configuredChannelBuilder(String configured,
      ChannelCredentials credentials) {
    return builder(configured, ControllerAddresses.parse(configured), credentials);
  }

  private static ManagedChannelBuilder<?> builder(String configured, List<HostPort> addresses,
      ChannelCredentials credentials) {
    if (addresses.size() <= 1 && configured != null && !configured.contains(",")) {
      // One controller: the address exactly as configured, as before several could lead.
      return Grpc.newChannelBuilder(configured, credentials);
    }
    return ControllerAddresses.channelBuilder(addresses, credentials, List.of());
  }
}
