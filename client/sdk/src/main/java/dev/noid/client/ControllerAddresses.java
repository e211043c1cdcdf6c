package dev.noid.client;

import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.ManagedChannelBuilder;
import io.grpc.NameResolverRegistry;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * Channels to one controller or to several that share a store, of which one leads.
 *
 * <p>With several addresses the channel keeps a connection to each controller and, through
 * grpc-java's client-side health checking ({@code io.grpc:grpc-services}), watches the health
 * service {@value #LEADER_SERVICE} on each; round_robin then only picks controllers that report
 * it SERVING, which is the leader alone. Calls wait for a leader (wait-for-ready, bounded by
 * their deadline) instead of failing during a failover. With one address the channel is a
 * plain one, as before there were several controllers.
 */
public final class ControllerAddresses {
  /** The health service name that only the leading controller reports SERVING. */
  public static final String LEADER_SERVICE = "noid.leader";

  private static final Object REGISTERED = register();

  private ControllerAddresses() {}

  private static Object register() {
    // Registered in code rather than through META-INF/services so that shaded jars, which
    // may drop or clobber service files, still find it.
    NameResolverRegistry.getDefaultRegistry().register(new StaticAddressResolver.Provider());
    return Boolean.TRUE;
  }

  /** Parses a comma list of {@code host[:port]} (default port 7655). */
  public static List<HostPort> parse(String commaList) {
    return HostPort.parseList(commaList);
  }

  /** The addresses as a comma list, the form {@link #parse} reads. */
  public static String join(Collection<HostPort> addresses) {
    return addresses.stream().map(HostPort::toString).collect(Collectors.joining(","));
  }

  /**
   * A channel builder for {@code addresses} with {@code credentials}. {@code methodConfigs}
   * are gRPC service config {@code methodConfig} entries (retry policies; may be empty); with
   * several addresses each gets wait-for-ready unless it sets {@code waitForReady} itself, and
   * every other method waits too. The caller must not set another default service config.
   */
  public static ManagedChannelBuilder<?> channelBuilder(List<HostPort> addresses,
      ChannelCredentials credentials, List<Map<String, ?>> methodConfigs) {
    if (addresses.isEmpty()) {
      throw new IllegalArgumentException("no controller address");
    }
    if (addresses.size() == 1) {
      ManagedChannelBuilder<?> b = Grpc.newChannelBuilder(addresses.get(0).toString(), credentials);
      if (!methodConfigs.isEmpty()) {
        b.defaultServiceConfig(Map.of("methodConfig", methodConfigs));
      }
      return b;
    }
    return Grpc.newChannelBuilder(target(addresses), credentials)
        .defaultServiceConfig(leaderServiceConfig(methodConfigs));
  }

  /** The channel target that names all {@code addresses} (their resolver is registered). */
  static String target(List<HostPort> addresses) {
    Objects.requireNonNull(REGISTERED);
    try {
      // The URI constructor escapes what a path may not hold, such as IPv6 brackets.
      return new URI(StaticAddressResolver.Provider.SCHEME, "", "/" + join(addresses), null)
          .toString();
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("bad controller addresses " + addresses, e);
    }
  }

  /** round_robin over the controllers that report {@value #LEADER_SERVICE} SERVING. */
  static Map<String, ?> leaderServiceConfig(List<Map<String, ?>> methodConfigs) {
    List<Map<String, ?>> methods = new ArrayList<>();
    for (Map<String, ?> m : methodConfigs) {
      Map<String, Object> waiting = new LinkedHashMap<>(m);
      waiting.putIfAbsent("waitForReady", Boolean.TRUE);
      methods.add(waiting);
    }
    // An empty name is gRPC's default for methods no other entry names.
    methods.add(Map.of("name", List.of(Map.of()), "waitForReady", Boolean.TRUE));
    Map<String, Object> config = new HashMap<>();
    config.put("loadBalancingConfig", List.of(Map.of("round_robin", Map.of())));
    config.put("healthCheckConfig", Map.of("serviceName", LEADER_SERVICE));
    config.put("methodConfig", methods);
    return config;
  }
}
