package dev.noid.controller.vms.grpc;

import dev.noid.controller.api.GrpcStatusMapper;
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
  private final Principal who;
  private final ServerCallStreamObserver<AttachConsoleResponse> out;
  private final StreamProxy<ConsoleResponse, AttachConsoleResponse, ConsoleRequest> proxy;
  private StreamObserver<ConsoleRequest> toAgent;

  ConsoleProxy(VmRecords vms, AgentClients agents, Principal who,
      ServerCallStreamObserver<AttachConsoleResponse> out) {
    this.vms = vms;
    this.agents = agents;
    this.who = who;
    this.out = out;
    this.proxy = new StreamProxy<>(out, r -> AttachConsoleResponse.newBuilder().setOutput(r.getOutput()).build());
  }

  @Override
  public synchronized void onNext(AttachConsoleRequest request) {
    if (toAgent == null) {
      if (!request.hasAttach()) {
        out.onError(Status.INVALID_ARGUMENT.withDescription("the first console message must be 'attach'")
            .asRuntimeException());
        return;
      }
      VmEntry vm;
      try {
        vm = vms.require(who, request.getAttach().getVm(), VmState.Action.CONSOLE);
      } catch (RuntimeException e) {
        out.onError(GrpcStatusMapper.toStatus(e));
        return;
      }
      toAgent = agents.async(vm.node()).console(proxy);
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
    } else {
      out.onCompleted();
    }
  }
}
