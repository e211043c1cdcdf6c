package dev.noid.client;

import dev.noid.api.v1.AttachConsoleRequest;
import dev.noid.api.v1.AttachConsoleResponse;
import dev.noid.api.v1.ConsoleAttach;
import dev.noid.api.v1.ExecCommandRequest;
import dev.noid.api.v1.ExecCommandResponse;
import dev.noid.api.v1.ExecStart;
import dev.noid.api.v1.VmServiceGrpc;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayOutputStream;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/** The two interactive streams {@link NoidClient} offers: a command's exec, and the console. */
final class StreamCalls {
  private StreamCalls() {}

  /** Runs a command to completion, collecting its output. */
  static ExecResult execToEnd(VmServiceGrpc.VmServiceStub stub, ExecStart start) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    CompletableFuture<ExecResult> done = new CompletableFuture<>();
    exec(stub, start, new ExecListener() {
      @Override
      public void onStdout(byte[] data) {
        out.writeBytes(data);
      }

      @Override
      public void onStderr(byte[] data) {
        err.writeBytes(data);
      }

      @Override
      public void onExit(int exitCode, boolean timedOut, boolean truncated) {
        done.complete(new ExecResult(exitCode, out.toByteArray(), err.toByteArray(), timedOut,
            truncated));
      }

      @Override
      public void onError(NoidException error) {
        done.completeExceptionally(error);
      }
    });
    try {
      return done.join();
    } catch (java.util.concurrent.CompletionException e) {
      throw NoidException.from(e.getCause());
    }
  }

  /** Starts a command; its output goes to {@code listener} as it comes. */
  static ExecSession exec(VmServiceGrpc.VmServiceStub stub, ExecStart start,
      ExecListener listener) {
    ExecSession.Writable writable = new ExecSession.Writable();
    StreamObserver<ExecCommandRequest> requests = stub.execCommand(
        new ClientResponseObserver<ExecCommandRequest, ExecCommandResponse>() {
          @Override
          public void beforeStart(ClientCallStreamObserver<ExecCommandRequest> call) {
            writable.watch(call);
          }

          @Override
          public void onNext(ExecCommandResponse r) {
            switch (r.getMessageCase()) {
              case STDOUT -> listener.onStdout(r.getStdout().toByteArray());
              case STDERR -> listener.onStderr(r.getStderr().toByteArray());
              case EXIT -> listener.onExit(r.getExit().getExitCode(), r.getExit().getTimedOut(),
                  r.getExit().getOutputTruncated());
              default -> { }
            }
          }

          @Override
          public void onError(Throwable t) {
            writable.ended();
            listener.onError(NoidException.from(t));
          }

          @Override
          public void onCompleted() {
            writable.ended();
          }
        });
    requests.onNext(ExecCommandRequest.newBuilder().setStart(start).build());
    // Not half-closed without stdin: signals and resizes still go this way (a half-closed
    // call refuses them), and the agent reads no input the start did not ask for.
    return new ExecSession(requests, writable);
  }

  /** Attaches to a VM's serial console. */
  static ConsoleSession console(VmServiceGrpc.VmServiceStub stub, String vm,
      Consumer<byte[]> output, Consumer<NoidException> onEnd) {
    StreamObserver<AttachConsoleRequest> requests = stub.attachConsole(
        new StreamObserver<AttachConsoleResponse>() {
          @Override
          public void onNext(AttachConsoleResponse r) {
            output.accept(r.getOutput().toByteArray());
          }

          @Override
          public void onError(Throwable t) {
            onEnd.accept(NoidException.from(t));
          }

          @Override
          public void onCompleted() {
            onEnd.accept(null);
          }
        });
    requests.onNext(AttachConsoleRequest.newBuilder().setAttach(ConsoleAttach.newBuilder()
        .setVm(vm)).build());
    return new ConsoleSession(requests);
  }
}
