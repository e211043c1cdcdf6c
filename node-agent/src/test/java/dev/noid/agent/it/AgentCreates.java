package dev.noid.agent.it;

import dev.noid.api.agent.v1.AgentGrpc;
import dev.noid.api.agent.v1.CreateVmRequest;
import dev.noid.api.agent.v1.CreateVmResult;
import dev.noid.api.agent.v1.CreateVmsRequest;
import dev.noid.api.agent.v1.CreateVmsResponse;
import dev.noid.api.agent.v1.VmReport;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * Creates on an agent as tests and benchmarks need them: one at a time, blocking. The agent
 * creates only through {@code CreateVmsStream}, so each call opens a stream with the stub's
 * channel and call options (its deadline included), sends one batch and waits for its answer.
 */
public final class AgentCreates {
  private AgentCreates() {
  }

  /** Creates one VM; a refused create throws the status the agent gave it. */
  public static VmReport create(AgentGrpc.AgentBlockingStub agent, CreateVmRequest request) {
    CreateVmResult result = batch(agent, CreateVmsRequest.newBuilder().addCreates(request).build())
        .getResults(0);
    if (result.hasError()) {
      String message = result.getError().getMessage();
      throw Status.fromCodeValue(result.getError().getCode())
          .withDescription(message.isEmpty() ? null : message).asRuntimeException();
    }
    return result.getVm();
  }

  /** Sends one batch; a batch refused whole throws the status the stream ended with. */
  public static CreateVmsResponse batch(AgentGrpc.AgentBlockingStub agent, CreateVmsRequest request) {
    CompletableFuture<CreateVmsResponse> answer = new CompletableFuture<>();
    StreamObserver<CreateVmsRequest> requests = ClientCalls.asyncBidiStreamingCall(
        agent.getChannel().newCall(AgentGrpc.getCreateVmsStreamMethod(), agent.getCallOptions()),
        new StreamObserver<>() {
          @Override
          public void onNext(CreateVmsResponse response) {
            answer.complete(response);
          }

          @Override
          public void onError(Throwable t) {
            answer.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {
            answer.completeExceptionally(Status.INTERNAL
                .withDescription("the agent closed its create stream without an answer").asRuntimeException());
          }
        });
    requests.onNext(request);
    requests.onCompleted();
    try {
      return answer.get();
    } catch (ExecutionException e) {
      throw e.getCause() instanceof StatusRuntimeException s ? s
          : Status.fromThrowable(e.getCause()).asRuntimeException();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw Status.CANCELLED.withDescription("interrupted while waiting for a create")
          .asRuntimeException();
    }
  }
}
