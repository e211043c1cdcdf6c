package dev.noid.controller.nodes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.noid.controller.domain.NoidException;
import java.util.List;
import org.junit.jupiter.api.Test;

class NodeAddressesTest {
  private final NodeAddresses defaults = new NodeAddresses(List.of("localhost"));

  @Test
  void ipLiteralsAreTheOnlyNamesAllowedByDefaultAndLoopbackAddsLocalhost() {
    assertThat(defaults.certificateNames("10.0.0.7:7660")).containsExactly("10.0.0.7");
    assertThat(defaults.certificateNames("127.0.0.1:7660")).containsExactly("127.0.0.1", "localhost");
    assertThat(defaults.certificateNames("[fd00::1]:7660")).containsExactly("fd00::1");
    assertThat(new NodeAddresses(List.of()).certificateNames("127.0.0.1:7660"))
        .containsExactly("127.0.0.1");
  }

  @Test
  void dnsNamesNeedTheOperatorsLeave() {
    NodeAddresses corp = new NodeAddresses(List.of(".nodes.corp.example", "kvm1.example"));
    assertThat(corp.certificateNames("a1.nodes.corp.example:7660"))
        .containsExactly("a1.nodes.corp.example");
    assertThat(corp.certificateNames("kvm1.example:7660")).containsExactly("kvm1.example");
    for (String refused : List.of("ctl.corp.example:7660", "*.nodes.corp.example:1",
        "xnodes.corp.example:1", "kvm1.example.evil:1")) {
      assertThatThrownBy(() -> corp.certificateNames(refused))
          .isInstanceOfSatisfying(NoidException.class, e -> {
            assertThat(e.code()).isEqualTo(NoidException.Code.INVALID_ARGUMENT);
            assertThat(e.getMessage()).contains("agent_address", "node-dns-name");
          });
    }
  }

  @Test
  void malformedAddressesNameTheFieldInsteadOfFailingInternally() {
    for (String bad : List.of("", "10.0.0.7", "10.0.0.7:0", "10.0.0.7:70000", "10.0.0.7:x",
        "fd00::1:7660", ":7660")) {
      assertThatThrownBy(() -> defaults.certificateNames(bad))
          .isInstanceOfSatisfying(NoidException.class, e -> {
            assertThat(e.code()).isEqualTo(NoidException.Code.INVALID_ARGUMENT);
            assertThat(e.getMessage()).contains("agent_address");
          });
    }
  }
}
