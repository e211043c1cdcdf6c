package dev.noid.client;

import io.grpc.EquivalentAddressGroup;
import io.grpc.NameResolver;
import io.grpc.NameResolverProvider;
import io.grpc.Status;
import io.grpc.StatusOr;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.Executor;

/**
 * Resolves {@code noid-controllers:///host1:port,host2:port} to one address group per
 * controller, so that round_robin keeps a subchannel (and a health watch) for each. grpc-java
 * ships no resolver for a fixed list; DNS lookups run on the channel's offload executor because
 * the resolver's own context must not block.
 */
final class StaticAddressResolver extends NameResolver {
  private final List<HostPort> addresses;
  private final Executor offload;
  private Listener2 listener;
  private volatile boolean shutdown;

  StaticAddressResolver(List<HostPort> addresses, Executor offload) {
    this.addresses = List.copyOf(addresses);
    this.offload = offload;
  }

  @Override
  public String getServiceAuthority() {
    // The TLS name checked for every controller: all carry the names users connect with.
    return addresses.get(0).toString();
  }

  @Override
  public void start(Listener2 listener) {
    this.listener = listener;
    resolve();
  }

  @Override
  public void refresh() {
    resolve();
  }

  private void resolve() {
    offload.execute(() -> {
      List<EquivalentAddressGroup> groups = new ArrayList<>();
      List<String> unknown = new ArrayList<>();
      for (HostPort a : addresses) {
        InetSocketAddress resolved = new InetSocketAddress(a.host(), a.port());
        if (resolved.isUnresolved()) {
          unknown.add(a.toString());
        } else {
          groups.add(new EquivalentAddressGroup(resolved));
        }
      }
      if (shutdown) {
        return;
      }
      if (groups.isEmpty()) {
        listener.onError(Status.UNAVAILABLE.withDescription("cannot resolve " + unknown));
      } else {
        // One unresolvable controller must not hide the others.
        listener.onResult(ResolutionResult.newBuilder()
            .setAddressesOrError(StatusOr.fromValue(groups)).build());
      }
    });
  }

  @Override
  public void shutdown() {
    shutdown = true;
  }

  /** Registered once, by {@link ControllerAddresses}, in gRPC's default registry. */
  static final class Provider extends NameResolverProvider {
    static final String SCHEME = "noid-controllers";

    @Override
    public NameResolver newNameResolver(URI target, NameResolver.Args args) {
      if (!SCHEME.equals(target.getScheme())) {
        return null;
      }
      String path = target.getPath();
      List<HostPort> list = HostPort.parseList(path.startsWith("/") ? path.substring(1) : path);
      Executor offload = args.getOffloadExecutor() != null ? args.getOffloadExecutor() : Runnable::run;
      return new StaticAddressResolver(list, offload);
    }

    @Override
    public String getDefaultScheme() {
      return SCHEME;
    }

    @Override
    protected boolean isAvailable() {
      return true;
    }

    @Override
    protected int priority() {
      return 5;
    }

    @Override
    public Collection<Class<? extends SocketAddress>> getProducedSocketAddressTypes() {
      return List.of(InetSocketAddress.class);
    }
  }
}
