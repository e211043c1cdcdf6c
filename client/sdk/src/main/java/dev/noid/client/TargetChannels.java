package dev.noid.client;

import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The channel {@link NoidClient} makes from a target: to one controller, or following the
 * leader of several. Apart from {@link NoidClient#newChannel} so tests can pass their own
 * credentials.
 */
final class TargetChannels {
  private TargetChannels() {}

  /**
   * How long an interactive stream waits for a controller to lead (with several): as long as
   * the CLI waits before any command, and several times a failover's usual 4 s.
   */
  static final Duration LEADER_WAIT = Duration.ofSeconds(30);

  static ManagedChannel build(String target, ChannelCredentials credentials, int maxAttempts) {
    return build(target, credentials, maxAttempts, LEADER_WAIT);
  }

  static ManagedChannel build(String target, ChannelCredentials credentials, int maxAttempts,
      Duration leaderWait) {
    List<HostPort> addresses = target.contains(",") ? ControllerAddresses.parse(target) : List.of();
    ManagedChannelBuilder<?> builder;
    if (addresses.size() > 1) {
      builder = ControllerAddresses.channelBuilder(addresses, credentials,
          RetryPolicy.methodConfigs(maxAttempts))
          .intercept(new LeaderWait(leaderWait, ControllerAddresses.join(addresses)));
    } else {
      builder = single(addresses.isEmpty() ? target : addresses.get(0).toString(), credentials,
          maxAttempts);
    }
    builder.keepAliveTime(30, TimeUnit.SECONDS).maxInboundMessageSize(NoidClient.MAX_INBOUND_BYTES);
    // gRPC refuses a retry policy of one attempt: no retry is no policy.
    return maxAttempts > 1 ? builder.enableRetry().build() : builder.disableRetry().build();
  }

  /**
   * One address is passed on as before several controllers existed: it may be any gRPC target
   * (dns:///..., an IPv6 literal), so it is not parsed.
   */
  private static ManagedChannelBuilder<?> single(String target, ChannelCredentials credentials,
      int maxAttempts) {
    String addr = target.contains(":") ? target : target + ":7655";
    ManagedChannelBuilder<?> builder = Grpc.newChannelBuilder(addr, credentials);
    return maxAttempts > 1 ? builder.defaultServiceConfig(RetryPolicy.serviceConfig(maxAttempts)) : builder;
  }

  /**
   * Waits up to {@code max} for {@code channel} to be able to send calls: with one address, a
   * connection; with several, a controller that leads. False if it could not within that time.
   */
  static boolean awaitReady(ManagedChannel channel, java.time.Duration max)
      throws InterruptedException {
    long end = System.nanoTime() + max.toNanos();
    io.grpc.ConnectivityState state = channel.getState(true);
    while (state != io.grpc.ConnectivityState.READY) {
      long left = end - System.nanoTime();
      if (left <= 0 || state == io.grpc.ConnectivityState.SHUTDOWN) {
        return false;
      }
      java.util.concurrent.CountDownLatch changed = new java.util.concurrent.CountDownLatch(1);
      channel.notifyWhenStateChanged(state, changed::countDown);
      changed.await(left, TimeUnit.NANOSECONDS);
      state = channel.getState(true);
    }
    return true;
  }
}
