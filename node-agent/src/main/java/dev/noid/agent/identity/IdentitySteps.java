package dev.noid.agent.identity;

import dev.noid.api.agent.v1.VmSpec;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;

/** The identity steps every restored guest needs, whatever its network. */
public final class IdentitySteps {
  private static final SecureRandom RANDOM = new SecureRandom();

  private IdentitySteps() {}

  public static List<IdentityStep> standard() {
    return List.of(HOSTNAME, CLOCK, ENTROPY, MACHINE_ID);
  }

  static String hostname(VmSpec spec) {
    return spec.getHostname().isEmpty() ? spec.getId() : spec.getHostname();
  }

  // Host values reach the shell single-quoted; hostnames are DNS labels, the rest hex digits.
  static String quote(String s) {
    return "'" + s.replace("'", "'\\''") + "'";
  }

  static String randomHex(int bytes) {
    byte[] b = new byte[bytes];
    RANDOM.nextBytes(b);
    return HexFormat.of().formatHex(b);
  }

  /** The kernel's hostname and the files that repeat it, as the dev image's /init writes them. */
  static final IdentityStep HOSTNAME = step("hostname", (spec, now) -> {
    String h = quote(hostname(spec));
    return "hostname " + h + " && echo " + h + " >/etc/hostname && printf '127.0.0.1\\tlocalhost"
        + "\\n127.0.1.1\\t%s\\n' " + h + " >/etc/hosts";
  });

  /** A restored guest's clock reads the moment its snapshot was saved: set it from the host's. */
  static final IdentityStep CLOCK = step("clock", (spec, now) ->
      "date -u -s @" + (now.plusMillis(500).getEpochSecond()) + " >/dev/null");

  /**
   * Two guests restored from one memory image start with the same entropy pool and the same
   * generator state. Bytes merely written to /dev/urandom would wait for the kernel's next timed
   * reseed; the guest agent's {@code reseed} credits host randomness and reseeds at once, so the
   * clone's random streams are its own before anything else runs in it.
   */
  static final IdentityStep ENTROPY = step("entropy", (spec, now) ->
      "noid-guest-agent reseed " + randomHex(64));

  /** A new machine id where the image has one (systemd images); the dev image has none. */
  static final IdentityStep MACHINE_ID = step("machine-id", (spec, now) ->
      "if [ -e /etc/machine-id ]; then echo " + randomHex(16) + " >/etc/machine-id; fi");

  private interface Script {
    String of(VmSpec spec, Instant now);
  }

  private static IdentityStep step(String name, Script script) {
    return new IdentityStep() {
      @Override
      public String name() {
        return name;
      }

      @Override
      public String script(VmSpec spec, Instant now) {
        return script.of(spec, now);
      }
    };
  }
}
