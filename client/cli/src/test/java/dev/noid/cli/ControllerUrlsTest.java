package dev.noid.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** NOID_URL, config.json's url and 'auth setup --url' take one controller or a comma list. */
class ControllerUrlsTest {
  @Test
  void oneAddressIsNormalizedAsBefore() {
    assertThat(ControllerUrls.normalize("c1")).isEqualTo("c1:7655");
    assertThat(ControllerUrls.normalize("https://c1:9000")).isEqualTo("c1:9000");
  }

  @Test
  void aCommaListIsNormalizedEachWithTheDefaultPort() {
    assertThat(ControllerUrls.normalize(" c1, c2:9000 ,[::1]:7000,c1,"))
        .isEqualTo("c1:7655,c2:9000,[::1]:7000");
    assertThat(ControllerUrls.each("c1,c2")).containsExactly("c1:7655", "c2:7655");
  }

  @Test
  void aBadPortOrNoAddressIsAUsageError() {
    assertThatThrownBy(() -> ControllerUrls.normalize("c1,c2:http"))
        .isInstanceOfSatisfying(CliException.class, e -> assertThat(e.exitCode()).isEqualTo(CliException.USAGE));
    assertThatThrownBy(() -> ControllerUrls.normalize(" , "))
        .isInstanceOfSatisfying(CliException.class, e -> assertThat(e.exitCode()).isEqualTo(CliException.USAGE));
  }

  @Test
  void errorsNameEveryControllerTried() {
    var refused = dev.noid.client.NoidException.from(io.grpc.Status.UNAUTHENTICATED
        .withDescription("bad token").asRuntimeException());
    assertThat(Errors.describe(refused, "c1:7655,c2:7655")).contains("any of c1:7655, c2:7655");
  }
}
