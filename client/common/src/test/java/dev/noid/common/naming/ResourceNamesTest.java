package dev.noid.common.naming;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ResourceNamesTest {
  private static final String LONGEST = "a" + "0123456789".repeat(6) + "-z"; // 63

  @ParameterizedTest
  @ValueSource(strings = {"a", "web", "web-1", "a1", "x-y-z", "node--a", "w0"})
  void dnsLabelsAreValid(String name) {
    assertThat(ResourceNames.isValid(name)).isTrue();
    assertThat(ResourceNames.problem("name", name)).isNull();
  }

  @Test
  void sixtyThreeCharactersAreAllowed() {
    assertThat(LONGEST).hasSize(63);

    assertThat(ResourceNames.isValid(LONGEST)).isTrue();
  }

  @Test
  void sixtyFourCharactersAreTooLongAndTheMessageSaysTheLimit() {
    String name = LONGEST + "a";

    assertThat(ResourceNames.problem("vm_name", name))
        .isEqualTo("vm_name 'a0123456789012345678...' is 64 characters long; at most 63 are allowed");
  }

  @ParameterizedTest
  @ValueSource(strings = {"1web", "0", "web-", "-web", "Web", "wEb", "web_1", "web.1", "web 1",
      "wéb", "-"})
  void namesThatAreNotDnsLabelsAreRefusedWithTheRule(String name) {
    assertThat(ResourceNames.isValid(name)).isFalse();
    assertThat(ResourceNames.problem("name", name)).isEqualTo("name '" + name
        + "' is not a DNS label: use a-z, 0-9 and '-', start with a letter and do not end with '-'");
  }

  @Test
  void missingNameIsRequired() {
    assertThat(ResourceNames.problem("user", null)).isEqualTo("user is required");
    assertThat(ResourceNames.problem("user", "")).isEqualTo("user is required");
    assertThat(ResourceNames.isValid(null)).isFalse();
  }
}
