package dev.noid.agent.identity;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.agent.guest.GuestCommand;
import dev.noid.api.agent.v1.VmSpec;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The script is run for real by busybox's sh in the ITs; here, what goes into it. */
class IdentityFixTest {
  private final IdentityFix fix = IdentityFix.standard(
      Clock.fixed(Instant.parse("2026-11-24T10:00:00.700Z"), ZoneOffset.UTC));

  private String script(VmSpec spec) {
    List<String> cmd = fix.script(spec);
    assertThat(cmd.subList(0, 2)).containsExactly("sh", "-c");
    return cmd.get(2);
  }

  @Test
  void theHostnameIsTheVmsOwnOrItsId() {
    assertThat(script(VmSpec.newBuilder().setId("web-1").build()))
        .contains("hostname 'web-1' && echo 'web-1' >/etc/hostname");
    assertThat(script(VmSpec.newBuilder().setId("web-1").setHostname("front").build()))
        .contains("hostname 'front'").doesNotContain("web-1");
  }

  @Test
  void theClockIsSetFromTheHostsRoundedToTheNearestSecond() {
    assertThat(script(VmSpec.newBuilder().setId("a").build()))
        .contains("date -u -s @" + (Instant.parse("2026-11-24T10:00:01Z").getEpochSecond()));
  }

  @Test
  void everyRunMixesFreshRandomnessAndAFreshMachineId() {
    VmSpec spec = VmSpec.newBuilder().setId("a").build();
    String one = script(spec);
    String two = script(spec);
    assertThat(one).containsPattern("noid-guest-agent reseed [0-9a-f]{128}\\b")
        .contains("/etc/machine-id");
    assertThat(one).isNotEqualTo(two);
  }

  @Test
  void theStandardStepsRunAsOneToolWithoutAShell() {
    List<String> one = fix.command(VmSpec.newBuilder().setId("web-1").setHostname("front").build());
    List<String> two = fix.command(VmSpec.newBuilder().setId("web-1").build());

    assertThat(one.subList(0, 4)).containsExactly("noid-guest-agent", "identity", "front",
        String.valueOf(Instant.parse("2026-11-24T10:00:00.700Z").toEpochMilli()));
    assertThat(one.get(4)).matches("[0-9a-f]{128}");
    assertThat(one.get(5)).matches("[0-9a-f]{32}");
    assertThat(two.get(2)).isEqualTo("web-1");
    assertThat(two.subList(4, 6)).doesNotContainAnyElementsOf(one.subList(4, 6));
  }

  @Test
  void aGuestAgentWithoutTheToolIsToldApartFromAFailingStep() {
    assertThat(IdentityFix.olderGuestAgent(2, "noid-guest-agent: usage: noid-guest-agent"
        + " [probe ... | reseed HEX | growfs MOUNTPOINT]\n")).isTrue();
    assertThat(IdentityFix.olderGuestAgent(1, "noid-guest-agent: identity step clock failed"))
        .isFalse();
    assertThat(IdentityFix.olderGuestAgent(2, "noid-guest-agent: usage: noid-guest-agent"
        + " identity HOSTNAME EPOCH_MS SEED_HEX MACHINE_ID_HEX")).isFalse();
  }

  @Test
  void anOlderGuestAgentGetsTheScriptAndANewerOneOnlyTheTool() throws Exception {
    VmSpec spec = VmSpec.newBuilder().setId("web-1").build();
    String usage = "noid-guest-agent: usage: noid-guest-agent [probe ... | reseed HEX]\n";
    List<List<String>> older = new ArrayList<>();
    GuestCommand.Result last = fix.applyTo(spec, argv -> {
      older.add(argv);
      return argv.get(0).equals("sh") ? new GuestCommand.Result(0, "", "")
          : new GuestCommand.Result(2, "", usage);
    });
    List<List<String>> newer = new ArrayList<>();
    fix.applyTo(spec, argv -> {
      newer.add(argv);
      return new GuestCommand.Result(0, "", "");
    });

    assertThat(older).extracting(argv -> argv.get(0)).containsExactly("noid-guest-agent", "sh");
    assertThat(older.get(1).get(2)).contains("hostname 'web-1'");
    assertThat(last.status()).isZero();
    assertThat(newer).extracting(argv -> argv.get(0)).containsExactly("noid-guest-agent");
  }

  /**
   * A VM restored from its own checkpoint keeps its machine id: "keep" to the tool, and where
   * the tool predates "keep" (it answers its identity usage), the script without that step.
   */
  @Test
  void theSameMachineKeepsItsMachineIdWithTheToolOrWithoutIt() throws Exception {
    VmSpec spec = VmSpec.newBuilder().setId("web-1").build();
    assertThat(fix.command(spec, true).get(5)).isEqualTo("keep");

    String usage = "noid-guest-agent: usage: noid-guest-agent identity HOSTNAME EPOCH_MS"
        + " SEED_HEX MACHINE_ID_HEX\n";
    List<List<String>> ran = new ArrayList<>();
    GuestCommand.Result last = fix.applyTo(spec, true, argv -> {
      ran.add(argv);
      return argv.get(0).equals("sh") ? new GuestCommand.Result(0, "", "")
          : new GuestCommand.Result(2, "", usage);
    });

    assertThat(ran).extracting(argv -> argv.get(0)).containsExactly("noid-guest-agent", "sh");
    assertThat(ran.get(1).get(2)).contains("hostname 'web-1'").contains("reseed")
        .doesNotContain("machine-id");
    assertThat(last.status()).isZero();
    assertThat(script(spec)).as("a copy still gets a new one").contains("/etc/machine-id");
  }

  @Test
  void aFailingStepStopsTheScriptAndNamesItself() {
    IdentityFix custom = new IdentityFix(List.of(new IdentityStep() {
      @Override
      public String name() {
        return "address";
      }

      @Override
      public String script(VmSpec spec, Instant now) {
        return "ip addr add 10.0.0.2/24 dev eth0";
      }
    }), Clock.systemUTC());
    assertThat(custom.command(VmSpec.newBuilder().setId("a").build()).get(2))
        .isEqualTo("{ ip addr add 10.0.0.2/24 dev eth0; } || { echo 'identity step address"
            + " failed' >&2; exit 1; }");
    assertThat(IdentitySteps.quote("it's").getBytes(StandardCharsets.UTF_8))
        .isEqualTo("'it'\\''s'".getBytes(StandardCharsets.UTF_8));
  }
}
