package dev.noid.client;

import com.google.protobuf.ByteString;
import dev.noid.api.v1.AttachConsoleRequest;
import io.grpc.stub.StreamObserver;

/** An attached serial console: type into it; {@link #detach()} leaves the VM running. */
public final class ConsoleSession {
  private final StreamObserver<AttachConsoleRequest> requests;

  ConsoleSession(StreamObserver<AttachConsoleRequest> requests) {
    this.requests = requests;
  }

  /** Sends keystrokes or bytes to the VM's serial console. */
  public synchronized void send(byte[] data) {
    requests.onNext(AttachConsoleRequest.newBuilder().setInput(ByteString.copyFrom(data)).build());
  }

  /** Ends this session; the VM keeps running. */
  public synchronized void detach() {
    requests.onCompleted();
  }
}
