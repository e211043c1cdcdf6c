package dev.noid.agent.it;

import dev.noid.api.v1.ExecCommandRequest;
import dev.noid.api.v1.ExecCommandResponse;
import dev.noid.api.v1.ExecStart;
import dev.noid.api.v1.VmServiceGrpc;
import dev.noid.controller.testing.ControllerProcess;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import java.util.List;

/** A command in a guest through the controller's public ExecCommand, for integration tests. */
final class ApiExec {
  private ApiExec() {}

  record Result(int exit, String out, String err) {}

  static Result run(ManagedChannel channel, String token, String vm, String... command) throws Exception {
    ExecOutput<ExecCommandResponse, Result> output = new ExecOutput<>() {
      @Override
      public void onNext(ExecCommandResponse r) {
        switch (r.getMessageCase()) {
          case STDOUT -> stdout(r.getStdout().toByteArray());
          case STDERR -> stderr(r.getStderr().toByteArray());
          case EXIT -> exited(new Result(r.getExit().getExitCode(), stdoutText(), stderrText()));
          default -> { }
        }
      }
    };
    StreamObserver<ExecCommandRequest> requests = VmServiceGrpc.newStub(channel)
        .withCallCredentials(ControllerProcess.bearer(token)).execCommand(output);
    requests.onNext(ExecCommandRequest.newBuilder().setStart(ExecStart.newBuilder().setVm(vm)
        .addAllCommand(List.of(command))).build());
    return output.await(requests);
  }
}
