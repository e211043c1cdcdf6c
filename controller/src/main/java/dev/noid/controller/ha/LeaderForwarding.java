package dev.noid.controller.ha;

import dev.noid.common.grpc.MessageLimits;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Grpc;
import io.grpc.HandlerRegistry;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.Status;
import dev.noid.client.ControllerTrust;
import io.grpc.TlsChannelCredentials;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * What a follower does with the API calls it does not serve itself (issue 22): forwards them to
 * the leader, so that a client given any one controller can write. Each call is relayed as it
 * is, bytes and headers (the caller's token included, checked here first and again by the
 * leader), with flow control both ways and the caller's deadline. Calls the leader must see
 * from their own peer (the node agents', which authenticate with their certificate) are not
 * forwarded but answered by {@link NotLeaderHandlers}, as is every call while no one leads.
 */
final class LeaderForwarding extends HandlerRegistry implements AutoCloseable {
  private static final String USER_API = "noid.v1.";

  private final Leadership leadership;
  private final Path trustedCa;
  private final NotLeaderHandlers refusals;
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  private volatile String lastLeader = "";

  LeaderForwarding(Leadership leadership, Path trustedCa) {
    this.leadership = leadership;
    this.trustedCa = trustedCa;
    this.refusals = new NotLeaderHandlers(leadership);
  }

  @Override
  public ServerMethodDefinition<?, ?> lookupMethod(String methodName, String authority) {
    if (!methodName.startsWith(USER_API)) {
      return refusals.lookupMethod(methodName, authority);
    }
    MethodDescriptor<byte[], byte[]> method = NotLeaderHandlers.bytesMethod(methodName);
    ServerCallHandler<byte[], byte[]> forward = (call, headers) -> {
      String leader = leadership.view().leaderAddress();
      if (leader.isEmpty() || leader.equals(leadership.ownAddress())) {
        return refusals.refuse(call);
      }
      return new Relay(call, channelTo(leader).newCall(method, options())).start(headers);
    };
    return ServerMethodDefinition.create(method, forward);
  }

  private static CallOptions options() {
    Deadline deadline = Context.current().getDeadline();
    return deadline == null ? CallOptions.DEFAULT : CallOptions.DEFAULT.withDeadline(deadline);
  }

  // A new leader gets a fresh connection attempt at once: the channel to it may still be in
  // the backoff it entered while that controller was down (a leader that came back).
  private ManagedChannel channelTo(String leader) {
    ManagedChannel c = channel(leader);
    if (!leader.equals(lastLeader)) {
      lastLeader = leader;
      c.resetConnectBackoff();
    }
    return c;
  }

  private ManagedChannel channel(String leader) {
    return channels.computeIfAbsent(leader, address -> {
      try {
        return Grpc.newChannelBuilder(address,
            // It passes the caller's token on: only to the controller, never to a node.
            TlsChannelCredentials.newBuilder().trustManager(ControllerTrust.of(trustedCa)).build())
            // As any client's: the leader's answers (a page of VMs) may be this large.
            .maxInboundMessageSize(MessageLimits.CONTROLLER_INBOUND_BYTES)
            .build();
      } catch (java.io.UncheckedIOException | IllegalArgumentException e) {
        throw Status.INTERNAL.withDescription("cannot read the cluster CA " + trustedCa)
            .withCause(e).asRuntimeException();
      }
    });
  }

  @Override
  public void close() {
    channels.values().forEach(ManagedChannel::shutdownNow);
    for (ManagedChannel c : channels.values()) {
      try {
        c.awaitTermination(1, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  /**
   * One call relayed: the caller's messages to the leader, the leader's answers back. Each side
   * is asked for its next message only when the other can take it (grpc-java's proxy example):
   * a slow caller slows the leader's stream down instead of being buffered for.
   */
  private static final class Relay {
    private final ServerCall<byte[], byte[]> in;
    private final ClientCall<byte[], byte[]> out;
    private final Object lock = new Object();
    private boolean answerWanted;
    private boolean requestWanted;

    Relay(ServerCall<byte[], byte[]> in, ClientCall<byte[], byte[]> out) {
      this.in = in;
      this.out = out;
    }

    ServerCall.Listener<byte[]> start(Metadata headers) {
      out.start(new ClientCall.Listener<>() {
        @Override
        public void onHeaders(Metadata h) {
          in.sendHeaders(h);
        }

        @Override
        public void onMessage(byte[] message) {
          in.sendMessage(message);
          synchronized (lock) {
            if (in.isReady()) {
              out.request(1);
            } else {
              answerWanted = true;
            }
          }
        }

        @Override
        public void onClose(Status status, Metadata trailers) {
          in.close(status, trailers);
        }

        @Override
        public void onReady() {
          synchronized (lock) {
            if (requestWanted) {
              requestWanted = false;
              in.request(1);
            }
          }
        }
      }, headers);
      out.request(1);
      in.request(1);
      return new ServerCall.Listener<>() {
        @Override
        public void onMessage(byte[] message) {
          out.sendMessage(message);
          synchronized (lock) {
            if (out.isReady()) {
              in.request(1);
            } else {
              requestWanted = true;
            }
          }
        }

        @Override
        public void onHalfClose() {
          out.halfClose();
        }

        @Override
        public void onCancel() {
          out.cancel("the caller cancelled", null);
        }

        @Override
        public void onReady() {
          synchronized (lock) {
            if (answerWanted) {
              answerWanted = false;
              out.request(1);
            }
          }
        }
      };
    }
  }
}
