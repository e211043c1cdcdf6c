package dev.noid.agent.cloudhypervisor;

import java.io.IOException;
import java.util.List;

/** An error answer of the VMM: its HTTP status and the error chain it sent (a JSON array). */
public final class VmmApiException extends IOException {
  private final String call;
  private final int status;
  private final List<String> chain;

  public VmmApiException(String call, int status, List<String> chain) {
    super(call + " answered " + status + (chain.isEmpty() ? "" : ": " + String.join(": ", chain)));
    this.call = call;
    this.status = status;
    this.chain = List.copyOf(chain);
  }

  public String call() {
    return call;
  }

  public int status() {
    return status;
  }

  public List<String> chain() {
    return chain;
  }
}
