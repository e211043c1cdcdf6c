package dev.noid.agent.cloudhypervisor;

import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import java.io.IOException;
import java.util.Set;

/**
 * Turns a failed VMM call into a domain error. The VMM answers 500 for a wrong state as for
 * any other failure, so for a 500 the VM's state is read back ({@code vm.info}) and compared
 * with the states the call needs (NOTES.md): that tells "wrong state" from "broken" without
 * depending on the wording of the error chain.
 */
final class VmmErrors {
  /** A VMM state source that may itself fail; used only to explain a 500. */
  interface StateProbe {
    String state() throws IOException;
  }

  private VmmErrors() {}

  static AgentException map(String action, String vm, IOException e, Set<String> needs,
      StateProbe probe) {
    String what = action + " of VM '" + vm + "' failed: ";
    if (e instanceof UnixHttpClient.TimeoutException) {
      return new AgentException(Code.HYPERVISOR_FAILED, what + "the VMM is not responding ("
          + e.getMessage() + ")", e);
    }
    if (!(e instanceof VmmApiException api)) {
      return new AgentException(Code.HYPERVISOR_FAILED, what + "cannot talk to the VMM: "
          + e.getMessage(), e);
    }
    String chain = api.chain().isEmpty() ? "no detail" : String.join(": ", api.chain());
    return switch (api.status()) {
      case 404 -> new AgentException(Code.WRONG_STATE, what + "the VMM has no VM (" + chain + ")", e);
      case 409 -> new AgentException(Code.ALREADY_EXISTS, what + "a device id or path is already"
          + " in use (" + chain + ")", e);
      case 400 -> new AgentException(Code.INVALID_ARGUMENT, what + "the VMM rejected the"
          + " configuration (" + chain + ")", e);
      default -> {
        String state = stateOrNull(probe);
        if (state != null && !needs.isEmpty() && !needs.contains(state)) {
          yield new AgentException(Code.WRONG_STATE, what + "the VM is " + state
              + " in the VMM, needs " + String.join(" or ", needs) + " (" + chain + ")", e);
        }
        yield new AgentException(Code.HYPERVISOR_FAILED, what + "VMM answered " + api.status()
            + " (" + chain + ")", e);
      }
    };
  }

  private static String stateOrNull(StateProbe probe) {
    if (probe == null) {
      return null;
    }
    try {
      return probe.state();
    } catch (IOException e) {
      return null;
    }
  }
}
