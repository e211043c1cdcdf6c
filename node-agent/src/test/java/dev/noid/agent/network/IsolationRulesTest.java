package dev.noid.agent.network;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Issue 19 L3: the nftables rules that keep users' VMs apart, as rendered for nft -f. */
class IsolationRulesTest {
  private final IsolationRules rules = new IsolationRules(new HostCommand(), "noidbr0", Set.of(9091, 7660));

  @Test
  void eachPortMaySendOnlyAsItselfAndEachUserReachesOnlyTheirOwnPorts() {
    String r = rules.ruleset(List.of(
        new IsolationRules.Port("nt0a630702", "alice", "10.99.7.2", "52:54:0a:63:07:02"),
        new IsolationRules.Port("nt0a630703", "bob", "10.99.7.3", "52:54:0a:63:07:03"),
        new IsolationRules.Port("nt0a630704", "alice", "10.99.7.4", "52:54:0a:63:07:04")));

    assertThat(r).startsWith("add table bridge noid_noidbr0\ndelete table bridge noid_noidbr0\n")
        .contains("    iifname \"nt0a630702\" ether saddr != 52:54:0a:63:07:02 drop\n")
        .contains("    iifname \"nt0a630702\" meta protocol ip ip saddr != 10.99.7.2 drop\n")
        .contains("    iifname \"nt0a630702\" meta protocol arp arp saddr ip != 10.99.7.2 drop\n")
        .contains("    iifname \"nt0a630703\" ether type != { ip, arp } drop\n")
        .contains("    iifname { \"nt0a630702\", \"nt0a630704\" } oifname != { \"nt0a630702\", \"nt0a630704\" } drop\n")
        .contains("    iifname { \"nt0a630703\" } oifname != { \"nt0a630703\" } drop\n")
        .contains("    iifname { \"nt0a630702\", \"nt0a630703\", \"nt0a630704\" } meta mark set"
            + " meta mark | 0x00100000\n")
        .contains("table inet noid_noidbr0 {\n")
        .contains("    meta mark & 0x00100000 == 0x00100000 oifname \"noidbr0\" drop\n")
        .contains("    iifname \"noidbr0\" tcp dport { 7660, 9091 } drop\n");
  }

  @Test
  void withNoVmsTheTablesStillReplaceWhatWasThere() {
    String r = rules.ruleset(List.of());
    assertThat(r).contains("delete table bridge noid_noidbr0").contains("delete table inet noid_noidbr0")
        .doesNotContain("iifname {");
  }
}
