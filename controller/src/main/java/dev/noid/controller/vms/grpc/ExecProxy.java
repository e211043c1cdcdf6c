package dev.noid.controller.vms.grpc;

import dev.noid.controller.api.FieldLimits;
import dev.noid.controller.api.GrpcStatusMapper;
import dev.noid.controller.api.OpenStreams;
import dev.noid.controller.api.StreamProxy;
import dev.noid.api.agent.v1.ExecRequest;
import dev.noid.api.agent.v1.ExecResponse;
import dev.noid.api.agent.v1.ExecStart;
import dev.noid.api.v1.ExecCommandRequest;
import dev.noid.api.v1.ExecCommandResponse;
import dev.noid.api.v1.ExecExit;
import dev.noid.controller.agents.grpc.AgentClients;
import dev.noid.controller.users.Principal;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.vms.service.VmRecords;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;

/** noid.v1 ExecCommand relayed to the VM's agent, message for message, numbers checked first. */
final class ExecProxy implements StreamObserver<ExecCommandRequest> {
  private final VmRecords vms;
  private final AgentClients agents;
  private final OpenStreams streams;
  private final Principal who;
  private final ServerCallStreamObserver<ExecCommandResponse> out;
  private final StreamProxy<ExecResponse, ExecCommandResponse, ExecRequest> proxy;
  private StreamObserver<ExecRequest> toAgent;
  private boolean refused;

  ExecProxy(VmRecords vms, AgentClients agents, OpenStreams streams, Principal who,
      ServerCallStreamObserver<ExecCommandResponse> out) {
    this.vms = vms;
    this.agents = agents;
    this.streams = streams;
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

  private static void checkNumbers(dev.noid.api.v1.ExecStart start) {
    FieldLimits.atMost("timeout_seconds", start.getTimeoutSeconds(), FieldLimits.MAX_EXEC_TIMEOUT_SECONDS);
    FieldLimits.atMost("max_output_bytes", start.getMaxOutputBytes(), FieldLimits.MAX_EXEC_OUTPUT_BYTES);
    checkSize("terminal_size", start.getTerminalSize());
  }

  private static void checkNumbers(ExecCommandRequest r) {
    if (r.hasSignal() && (r.getSignal() == 0
        || Integer.toUnsignedLong(r.getSignal()) > FieldLimits.MAX_SIGNAL)) {
      throw NoidException.invalid("signal " + Integer.toUnsignedLong(r.getSignal())
          + " is not a signal number: 1 to " + FieldLimits.MAX_SIGNAL);
    }
    if (r.hasResize()) {
      checkSize("resize", r.getResize());
    }
  }

  private static void checkSize(String field, dev.noid.api.v1.TerminalSize size) {
    FieldLimits.atMost(field + ".rows", size.getRows(), FieldLimits.MAX_TERMINAL_CELLS);
    FieldLimits.atMost(field + ".columns", size.getColumns(), FieldLimits.MAX_TERMINAL_CELLS);
  }

  @Override
  public synchronized void onNext(ExecCommandRequest request) {
    relay(request);
    proxy.nextInput();
  }

  private void relay(ExecCommandRequest request) {
    if (refused) {
      return;
    }
    if (toAgent == null) {
      refused = true; // until the start below succeeds: one error per call
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
      OpenStreams.Registration registration;
      try {
        checkNumbers(start);
        vm = vms.require(who, start.getVm(), VmState.Action.EXEC);
        registration = streams.open(who.name(), OpenStreams.Kind.EXEC, proxy::fail);
      } catch (RuntimeException e) {
        out.onError(GrpcStatusMapper.toStatus(e));
        return;
      }
      refused = false;
      proxy.whenDone(registration::close);
      toAgent = agents.async(vm.node()).exec(proxy);
      if (proxy.ended()) {
        return; // ended as the agent call was made, which it cancelled
      }
      ExecStart.Builder toNode = ExecStart.newBuilder().setVmId(vm.id())
          .addAllCommand(start.getCommandList()).putAllEnv(start.getEnvMap())
          .setTimeoutSeconds(start.getTimeoutSeconds()).setMaxOutputBytes(start.getMaxOutputBytes())
          .setStdin(start.getStdin()).setTty(start.getTty());
      if (start.hasTerminalSize()) { // none: the guest's pty keeps its 24x80
        toNode.setTerminalSize(dev.noid.api.agent.v1.TerminalSize.newBuilder()
            .setRows(start.getTerminalSize().getRows())
            .setColumns(start.getTerminalSize().getColumns()));
      }
      toAgent.onNext(ExecRequest.newBuilder().setStart(toNode).build());
      return;
    }
    ExecRequest.Builder b = ExecRequest.newBuilder();
    try {
      checkNumbers(request);
    } catch (RuntimeException e) {
      proxy.fail(GrpcStatusMapper.toStatus(e).getStatus());
      return;
    }
    switch (request.getMessageCase()) {
      case STDIN -> b.setStdin(request.getStdin());
      case STDIN_CLOSE -> b.setStdinClose(request.getStdinClose());
      case SIGNAL -> b.setSignal(request.getSignal());
      case RESIZE -> b.setResize(dev.noid.api.agent.v1.TerminalSize.newBuilder()
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
