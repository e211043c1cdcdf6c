package dev.noid.agent.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.api.agent.v1.ExecRequest;
import dev.noid.api.agent.v1.ExecResponse;
import dev.noid.api.agent.v1.ExecStart;
import dev.noid.api.agent.v1.GetVmRequest;
import dev.noid.api.agent.v1.VmReport;
import dev.noid.api.agent.v1.VmSpec;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Commands in a guest through an agent's Exec call, for integration tests. */
final class Guest {
  private Guest() {}

  record Exec(int exitCode, String stdout, String stderr) {}

  static VmSpec spec(String id) {
    return VmSpec.newBuilder().setId(id).setCpus(1).setMemMib(128).setImage("dev").build();
  }

  static Exec sh(AgentProcess agent, String vm, String script) throws Exception {
    return exec(agent, vm, List.of("sh", "-c", script));
  }

  /** The script's output; it must exit 0. */
  static String shOk(AgentProcess agent, String vm, String script) throws Exception {
    Exec r = sh(agent, vm, script);
    assertThat(r.exitCode()).as("'%s' in %s: %s", script, vm, r).isZero();
    return r.stdout();
  }

  /** "reachable" or "unreachable": whether {@code vm} gets an answer to one ping of {@code ip}. */
  static String reach(AgentProcess agent, String vm, String ip) throws Exception {
    return shOk(agent, vm, "if ping -c 1 -W 3 " + ip + " >/dev/null 2>&1; then echo reachable;"
        + " else echo unreachable; fi").strip();
  }

  static Exec exec(AgentProcess agent, String vm, List<String> command) throws Exception {
    ExecOutput<ExecResponse, Exec> output = new ExecOutput<>() {
      @Override
      public void onNext(ExecResponse r) {
        switch (r.getMessageCase()) {
          case STDOUT -> stdout(r.getStdout().toByteArray());
          case STDERR -> stderr(r.getStderr().toByteArray());
          case EXIT -> exited(new Exec(r.getExit().getExitCode(), stdoutText(), stderrText()));
          default -> { }
        }
      }
    };
    StreamObserver<ExecRequest> requests = agent.asyncStub().withDeadlineAfter(120, TimeUnit.SECONDS)
        .exec(output);
    requests.onNext(ExecRequest.newBuilder().setStart(ExecStart.newBuilder().setVmId(vm)
        .addAllCommand(command).setTimeoutSeconds(60)).build());
    return output.await(requests);
  }

  static VmReport get(AgentProcess agent, String id) throws Exception {
    return agent.stub().getVm(GetVmRequest.newBuilder().setId(id).build()).getVm();
  }

  static Status.Code code(Throwable t) {
    return ((StatusRuntimeException) t).getStatus().getCode();
  }
}
