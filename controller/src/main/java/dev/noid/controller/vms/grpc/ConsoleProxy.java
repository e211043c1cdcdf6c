package dev.noid.controller.vms.grpc;

import dev.noid.controller.api.GrpcStatusMapper;
import dev.noid.controller.api.OpenStreams;
import dev.noid.controller.api.StreamProxy;
import dev.noid.api.agent.v1.ConsoleRequest;
import dev.noid.api.agent.v1.ConsoleResponse;
import dev.noid.api.v1.AttachConsoleRequest;
import dev.noid.api.v1.AttachConsoleResponse;
import dev.noid.controller.agents.grpc.AgentClients;
import dev.noid.controller.users.Principal;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.domain.VmState;
import dev.noid.controller.vms.service.VmRecords;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;

/** noid.v1 AttachConsole relayed to the VM's agent; ending the call detaches only. */
final class ConsoleProxy implements StreamObserver<AttachConsoleRequest> {
  private final VmRecords vms;
  private final AgentClients agents;
  private final OpenStreams streams;
  private final Principal who;
  private final ServerCallStreamObserver<AttachConsoleResponse> out;
  private final StreamProxy<ConsoleResponse, AttachConsoleResponse, ConsoleRequest> proxy;
  private StreamObserver<ConsoleRequest> toAgent;
  private boolean refused;

  ConsoleProxy(VmRecords vms, AgentClients agents, OpenStreams streams, Principal who,
      ServerCallStreamObserver<AttachConsoleResponse> out) {
    this.vms = vms;
    this.agents = agents;
    this.streams = streams;
    this.who = who;
    this.out = out;
    this.proxy = new StreamProxy<>(out, r -> AttachConsoleResponse.newBuilder().setOutput(r.getOutput()).build());
  }

  @Override
  public synchronized void onNext(AttachConsoleRequest request) {
    relay(request);
    proxy.nextInput();
  }

  private void relay(AttachConsoleRequest request) {
    if (refused) {
      return;
    }
    if (toAgent == null) {
      refused = true; // until the attach below succeeds: one error per call
      if (!request.hasAttach()) {
        out.onError(Status.INVALID_ARGUMENT.withDescription("the first console message must be 'attach'")
            .asRuntimeException());
        return;
      }
      VmEntry vm;
      OpenStreams.Registration registration;
      try {
        vm = vms.require(who, request.getAttach().getVm(), VmState.Action.CONSOLE);
        registration = streams.open(who.name(), OpenStreams.Kind.CONSOLE, proxy::fail);
      } catch (RuntimeException e) {
        out.onError(GrpcStatusMapper.toStatus(e));
        return;
      }
      refused = false;
      proxy.whenDone(registration::close);
      toAgent = agents.async(vm.node()).console(proxy);
      if (proxy.ended()) {
        return; // ended as the agent call was made, which it cancelled
      }
      toAgent.onNext(ConsoleRequest.newBuilder().setVmId(vm.id()).build());
      return;
    }
    if (request.hasInput()) {
      toAgent.onNext(ConsoleRequest.newBuilder().setInput(request.getInput()).build());
    }
  }

  @Override
  public synchronized void onError(Throwable t) {
    if (toAgent != null) {
      proxy.fail(Status.CANCELLED.withDescription("detached"));
    }
  }

  @Override
  public synchronized void onCompleted() {
    if (toAgent != null) {
      toAgent.onCompleted();
    } else if (!refused) {
      out.onCompleted();
    }
  }
}
