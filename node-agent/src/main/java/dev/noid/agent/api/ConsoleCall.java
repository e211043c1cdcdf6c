package dev.noid.agent.api;

import com.google.protobuf.ByteString;
import dev.noid.agent.guest.BoundedWrite;
import dev.noid.api.agent.v1.ConsoleRequest;
import dev.noid.api.agent.v1.ConsoleResponse;
import dev.noid.agent.vm.VmManager;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.InputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * A console session: bytes between the client and the VM's serial port. Detaching (the client
 * ending or cancelling the call) closes only this connection; the VM keeps running. One
 * session per VM at a time, as the serial port has one reader.
 */
final class ConsoleCall implements StreamObserver<ConsoleRequest> {
  private static final Set<String> ATTACHED = ConcurrentHashMap.newKeySet();

  /** The VM's serial port socket, by VM id; refuses a VM that has no VMM running. */
  private final Function<String, Path> consoleSockets;
  private final ServerCallStreamObserver<ConsoleResponse> out;
  private final Duration writeLimit;
  private volatile SocketChannel socket;
  private volatile String vmId;
  private final java.util.concurrent.Semaphore writable = new java.util.concurrent.Semaphore(0);

  ConsoleCall(VmManager vms, ServerCallStreamObserver<ConsoleResponse> out) {
    this(vms::consoleSocket, out, BoundedWrite.GUEST_WRITE_LIMIT);
  }

  ConsoleCall(Function<String, Path> consoleSockets, ServerCallStreamObserver<ConsoleResponse> out,
      Duration writeLimit) {
    this.consoleSockets = consoleSockets;
    this.out = out;
    this.writeLimit = writeLimit;
    out.setOnReadyHandler(writable::release);
    out.setOnCancelHandler(() -> {
      detach();
      writable.release();
    });
  }

  @Override
  public void onNext(ConsoleRequest request) {
    try {
      switch (request.getMessageCase()) {
        case VM_ID -> attach(request.getVmId());
        case INPUT -> {
          SocketChannel s = socket;
          if (s == null) {
            throw new AgentException(Code.WRONG_STATE, "the first console request must be vm_id");
          }
          // Bounded: a guest that does not read its serial line would block this callback for
          // good, and the call's cancel handler, which detaches, runs only after it returns.
          // Past the limit the session ends and the console is free for the next one.
          BoundedWrite.fully(s, request.getInput().asReadOnlyByteBuffer(), writeLimit,
              "the VM's serial port");
        }
        case RESIZE -> { } // a serial line has no window size
        default -> throw new AgentException(Code.INVALID_ARGUMENT, "empty console request");
      }
    } catch (IOException e) {
      end(serialFailed("console connection failed: ", e));
    } catch (RuntimeException e) {
      end(GrpcErrors.toStatus(e).getStatus());
    }
  }

  private void attach(String id) throws IOException {
    if (socket != null) {
      throw new AgentException(Code.INVALID_ARGUMENT, "console already attached");
    }
    Path path = consoleSockets.apply(id);
    if (!ATTACHED.add(id)) {
      throw new AgentException(Code.WRONG_STATE, "a console is already attached to VM '" + id + "'");
    }
    vmId = id;
    SocketChannel s = SocketChannel.open(StandardProtocolFamily.UNIX);
    try {
      s.connect(UnixDomainSocketAddress.of(path));
    } catch (IOException e) {
      s.close();
      ATTACHED.remove(id);
      vmId = null;
      throw e;
    }
    socket = s;
    Thread.ofVirtual().name("console-" + id).start(() -> pump(s));
  }

  private void pump(SocketChannel s) {
    byte[] buf = new byte[8192];
    try (InputStream in = Channels.newInputStream(s)) {
      int n;
      while ((n = in.read(buf)) > 0) {
        // Read the serial line only as fast as the caller takes it (issue 19 H4): a client
        // that stops reading stops this loop, not the agent's memory.
        while (!out.isReady() && !out.isCancelled() && s.isOpen()) {
          writable.tryAcquire(1, java.util.concurrent.TimeUnit.SECONDS);
        }
        synchronized (out) {
          out.onNext(ConsoleResponse.newBuilder().setOutput(ByteString.copyFrom(buf, 0, n)).build());
        }
      }
      end(null);
    } catch (IOException | RuntimeException e) {
      if (s.isOpen()) {
        end(serialFailed("console closed: ", e));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      end(null);
    }
  }

  // The serial port is the VMM's: losing it is a hypervisor failure, not an unreachable node.
  private static Status serialFailed(String what, Exception e) {
    return GrpcErrors.toStatus(new AgentException(Code.HYPERVISOR_FAILED, what + e.getMessage(), e))
        .getStatus();
  }

  private synchronized void detach() {
    SocketChannel s = socket;
    socket = null;
    if (s != null) {
      try {
        s.close();
      } catch (IOException e) {
        // already closed
      }
    }
    String id = vmId;
    vmId = null;
    if (id != null) {
      ATTACHED.remove(id);
    }
  }

  private void end(Status status) {
    boolean wasAttached = vmId != null || socket != null;
    detach();
    synchronized (out) {
      if (out.isCancelled()) {
        return;
      }
      try {
        if (status == null) {
          out.onCompleted();
        } else if (wasAttached || status.getCode() != Status.Code.OK) {
          out.onError(status.asRuntimeException());
        }
      } catch (IllegalStateException alreadyClosed) {
        // the call already ended
      }
    }
  }

  @Override
  public void onError(Throwable t) {
    detach();
  }

  @Override
  public void onCompleted() {
    end(null);
  }
}
