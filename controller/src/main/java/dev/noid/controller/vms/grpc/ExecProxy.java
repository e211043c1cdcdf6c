package dev.noid.controller.vms.grpc;

import dev.noid.controller.api.GrpcStatusMapper;
import dev.noid.controller.api.StreamProxy;
import dev.noid.agent.v1.ExecRequest;
import dev.noid.agent.v1.ExecResponse;
import dev.noid.agent.v1.ExecStart;
import dev.noid.api.v1.ExecCommandRequest;
import dev.noid.api.v1.ExecCommandResponse;
import dev.noid.api.v1.ExecExit;
import dev.noid.controller.agents.grpc.AgentClients;
import dev.noid.controller.users.Principal;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.vms.service.VmRecords;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;

/** noid.v1 ExecCommand relayed to the VM's agent, message for message. */
final class ExecProxy implements StreamObserver<ExecCommandRequest> {
  private final VmRecords vms;
  private final AgentClients agents;
  private final Principal who;
  private final ServerCallStreamObserver<ExecCommandResponse> out;
  private final StreamProxy<ExecResponse, ExecCommandResponse, ExecRequest> proxy;
  private StreamObserver<ExecRequest> toAgent;

  ExecProxy(VmRecords vms, AgentClients agents, Principal who,
      ServerCallStreamObserver<ExecCommandResponse> out) {
    this.vms = vms;
    this.agents = agents;
    this.who = who;
    this.out = out;
    this.proxy = new StreamProxy<>(out, ExecProxy::convert);
  }

  private static ExecCommandResponse convert(ExecResponse r) {
    return switch (r.getMessageCase()) {
      case STDOUT -> ExecCommandResponse.newBuilder().setStdout(r.getStdout()).build();
      case STDERR -> ExecCommandResponse.newBuilder().setStderr(r.getStderr()).build();
      case EXIT -> ExecCommandResponse.newBuilder().setExit(ExecExit.newBuilder()
          .setExitCode(r.getExit().getExitCode()).setTimedOut(r.getExit().getTimedOut())
          .setOutputTruncated(r.getExit().getOutputTruncated())
          .setDurationMs(r.getExit().getDurationMs())).build();
      default -> ExecCommandResponse.getDefaultInstance();
    };
  }

  @Override
  public synchronized void onNext(ExecCommandRequest request) {
    if (toAgent == null) {
      if (!request.hasStart()) {
        out.onError(Status.INVALID_ARGUMENT.withDescription("the first exec message must be 'start'")
            .asRuntimeException());
        return;
      }
      var start = request.getStart();
      if (start.getCommandCount() == 0) {
        out.onError(Status.INVALID_ARGUMENT.withDescription("command is required").asRuntimeException());
        return;
      }
      VmEntry vm;
      try {
        vm = vms.require(who, start.getVm(), VmState.Action.EXEC);
      } catch (RuntimeException e) {
        out.onError(GrpcStatusMapper.toStatus(e));
        return;
      }
      toAgent = agents.async(vm.node()).exec(proxy);
      toAgent.onNext(ExecRequest.newBuilder().setStart(ExecStart.newBuilder().setVmId(vm.id())
          .addAllCommand(start.getCommandList()).putAllEnv(start.getEnvMap())
          .setTimeoutSeconds(start.getTimeoutSeconds()).setMaxOutputBytes(start.getMaxOutputBytes())
          .setStdin(start.getStdin()).setTty(start.getTty())
          .setTerminalSize(dev.noid.agent.v1.TerminalSize.newBuilder()
              .setRows(start.getTerminalSize().getRows())
              .setColumns(start.getTerminalSize().getColumns()))).build());
      return;
    }
    ExecRequest.Builder b = ExecRequest.newBuilder();
    switch (request.getMessageCase()) {
      case STDIN -> b.setStdin(request.getStdin());
      case STDIN_CLOSE -> b.setStdinClose(request.getStdinClose());
      case SIGNAL -> b.setSignal(request.getSignal());
      case RESIZE -> b.setResize(dev.noid.agent.v1.TerminalSize.newBuilder()
          .setRows(request.getResize().getRows()).setColumns(request.getResize().getColumns()));
      default -> {
        proxy.fail(Status.INVALID_ARGUMENT.withDescription("exec already started"));
        return;
      }
    }
    toAgent.onNext(b.build());
  }

  @Override
  public synchronized void onError(Throwable t) {
    if (toAgent != null) {
      proxy.fail(Status.CANCELLED.withDescription("the client cancelled"));
    }
  }

  @Override
  public synchronized void onCompleted() {
    if (toAgent != null) {
      toAgent.onCompleted();
    }
  }
}
