package dev.noid.controller.quotas;

import dev.noid.controller.domain.NoidException;
import java.util.HashMap;
import java.util.Map;
import java.util.OptionalLong;

/**
 * Per-user quota limits and what each user has reserved against them. {@link #reserve} checks
 * and records in one step under the book's lock, so parallel creates cannot together pass a
 * limit each would pass alone; {@link #release} gives a reservation back (destroy, delete, or
 * a create that failed). Not yet wired to the VM and checkpoint tables or persisted (see the
 * lane report).
 */
public final class QuotaBook {
  private final Map<String, QuotaLimits> limits = new HashMap<>();
  private final Map<String, Usage> used = new HashMap<>();

  public synchronized void setLimits(String user, QuotaLimits l) {
    limits.put(user, l);
  }

  public synchronized QuotaLimits limits(String user) {
    return limits.getOrDefault(user, QuotaLimits.UNLIMITED);
  }

  public synchronized Usage used(String user) {
    return used.getOrDefault(user, Usage.NONE);
  }

  /** Reserves {@code ask} for {@code user}, or throws QUOTA_EXCEEDED naming the first quota. */
  public synchronized void reserve(String user, Usage ask) {
    QuotaLimits l = limits(user);
    Usage u = used(user);
    check("vms", u.vms(), ask.vms(), l.vms());
    check("vcpus", u.vcpus(), ask.vcpus(), l.vcpus());
    check("memory_mib", u.memoryMib(), ask.memoryMib(), l.memoryMib());
    check("checkpoints", u.checkpoints(), ask.checkpoints(), l.checkpoints());
    check("checkpoint_bytes", u.checkpointBytes(), ask.checkpointBytes(), l.checkpointBytes());
    used.put(user, u.plus(ask));
  }

  public synchronized void release(String user, Usage give) {
    used.put(user, used(user).minus(give));
  }

  private static void check(String name, long used, long asked, OptionalLong limit) {
    if (asked > 0 && limit.isPresent() && used + asked > limit.getAsLong()) {
      throw new NoidException(NoidException.Code.QUOTA_EXCEEDED,
          "quota " + name + " exceeded: " + used + " used + " + asked + " requested > "
              + limit.getAsLong());
    }
  }
}
