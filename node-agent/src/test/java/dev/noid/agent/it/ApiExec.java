package dev.noid.agent.it;

import dev.noid.api.v1.ExecCommandRequest;
import dev.noid.api.v1.ExecCommandResponse;
import dev.noid.api.v1.ExecStart;
import dev.noid.api.v1.VmServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/** A command in a guest through the controller's public ExecCommand, for integration tests. */
final class ApiExec {
  private ApiExec() {}

  record Result(int exit, String out, String err) {}

  static Result run(ManagedChannel channel, String token, String vm, String... command) throws Exception {
    CompletableFuture<Result> done = new CompletableFuture<>();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    StreamObserver<ExecCommandRequest> req = VmServiceGrpc.newStub(channel)
        .withCallCredentials(ControllerProcess.bearer(token))
        .execCommand(new StreamObserver<>() {
          @Override
          public void onNext(ExecCommandResponse r) {
            switch (r.getMessageCase()) {
              case STDOUT -> out.writeBytes(r.getStdout().toByteArray());
              case STDERR -> err.writeBytes(r.getStderr().toByteArray());
              case EXIT -> done.complete(new Result(r.getExit().getExitCode(),
                  out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8)));
              default -> { }
            }
          }

          @Override
          public void onError(Throwable t) {
            done.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {
            done.completeExceptionally(new AssertionError("no exit"));
          }
        });
    req.onNext(ExecCommandRequest.newBuilder().setStart(ExecStart.newBuilder().setVm(vm)
        .addAllCommand(List.of(command))).build());
    try {
      return done.get(120, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw (Exception) e.getCause();
    } finally {
      req.onCompleted();
    }
  }
}
