package dev.noid.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.client.NoidException;
import io.grpc.Status;
import java.io.IOException;
import java.net.ConnectException;
import org.junit.jupiter.api.Test;

/** The one line a failed call becomes: what happened, where, and what to do. */
class ErrorsTest {
  private static NoidException transport(String description, Throwable cause) {
    return NoidException.from(Status.UNAVAILABLE.withDescription(description).withCause(cause)
        .asRuntimeException());
  }

  /**
   * A leader killed as a command went out resets the connection: the controller was reached,
   * so "cannot reach ... is the controller running?" sent users looking for the wrong fault.
   */
  @Test
  void aConnectionResetDuringTheCallIsNotReportedAsUnreachable() {
    String line = Errors.describe(
        transport("io exception", new IOException("Connection reset by peer")), "c1:7655,c2:7655");

    assertThat(line).startsWith("the connection to any of c1:7655, c2:7655 broke during the call")
        .contains("Connection reset by peer").contains("may or may not have been carried out")
        .contains("another leads within seconds").doesNotContain("cannot reach");
  }

  /** A controller killed mid-call, as gRPC tells it: no cause, only this description. */
  @Test
  void aConnectionClosedUnderTheCallIsACallThatBroke() {
    String line = Errors.describe(NoidException.from(Status.UNAVAILABLE
        .withDescription("Network closed for unknown reason").asRuntimeException()), "c1:7655");

    assertThat(line).startsWith("the connection to c1:7655 broke during the call")
        .contains("may or may not have been carried out");
  }

  @Test
  void theControllersOwnUnavailableIsToldAsItSaidIt() {
    String line = Errors.describe(NoidException.from(Status.UNAVAILABLE
        .withDescription("node node-a: Network closed for unknown reason").asRuntimeException()),
        "c1:7655");

    assertThat(line).isEqualTo("node node-a: Network closed for unknown reason");
  }

  @Test
  void aResetFromTheOnlyControllerDoesNotSpeakOfAnother() {
    String line = Errors.describe(
        transport("io exception", new IOException("Connection reset by peer")), "c1:7655");

    assertThat(line).startsWith("the connection to c1:7655 broke").doesNotContain("another");
  }

  @Test
  void anUnreachableNetworkIsNotACallThatBroke() {
    String line = Errors.describe(
        transport("io exception", new java.net.SocketException("Network is unreachable")),
        "c1:7655");

    assertThat(line).startsWith("cannot reach c1:7655: io exception");
  }

  @Test
  void aRefusedConnectionNamesTheAddressAndTheLikelyFix() {
    String line = Errors.describe(
        transport("io exception", new ConnectException("Connection refused")), "c1:7655");

    assertThat(line).startsWith("cannot connect to c1:7655: connection refused");
  }

  @Test
  void theControllersOwnAnswerIsPassedOnAsItIs() {
    NoidException e = NoidException.from(
        Status.UNAVAILABLE.withDescription("node-a is unreachable").asRuntimeException());

    assertThat(Errors.describe(e, "c1:7655")).isEqualTo("node-a is unreachable");
  }
}
