package dev.noid.controller.users.grpc;

import dev.noid.api.v1.Quota;
import dev.noid.api.v1.QuotaUsage;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.quotas.QuotaLimits;
import dev.noid.controller.quotas.Usage;
import java.util.OptionalLong;

/** Quotas between noid.v1 messages and the domain. */
final class QuotaMessages {
  private QuotaMessages() {}

  static QuotaLimits limits(Quota q) {
    return new QuotaLimits(
        q.hasVms() ? limit("quota.vms", q.getVms()) : OptionalLong.empty(),
        q.hasVcpus() ? limit("quota.vcpus", q.getVcpus()) : OptionalLong.empty(),
        q.hasMemoryMib() ? limit("quota.memory_mib", q.getMemoryMib()) : OptionalLong.empty(),
        q.hasCheckpoints() ? limit("quota.checkpoints", q.getCheckpoints()) : OptionalLong.empty(),
        q.hasCheckpointBytes() ? limit("quota.checkpoint_bytes", q.getCheckpointBytes()) : OptionalLong.empty(),
        q.hasCheckpointKeepLast() ? atLeast("quota.checkpoint_keep_last",
            q.getCheckpointKeepLast(), 1, "the newest checkpoint of each VM is always kept")
            : OptionalLong.empty(),
        q.hasCheckpointMaxAgeSeconds() ? atLeast("quota.checkpoint_max_age_seconds",
            q.getCheckpointMaxAgeSeconds(), 60, "retention runs once a minute")
            : OptionalLong.empty());
  }

  private static OptionalLong atLeast(String field, long value, long min, String why) {
    OptionalLong v = limit(field, value);
    if (v.getAsLong() < min) {
      throw NoidException.invalid(field + " must be at least " + min + " (" + why + "); got "
          + value);
    }
    return v;
  }

  // uint64 on the wire, a signed long here: the top half of the range is refused, not wrapped.
  private static OptionalLong limit(String field, long value) {
    if (value < 0) {
      throw NoidException.invalid(field + " must be at most " + Long.MAX_VALUE + "; got "
          + Long.toUnsignedString(value));
    }
    return OptionalLong.of(value);
  }

  static Quota quota(QuotaLimits l) {
    Quota.Builder b = Quota.newBuilder();
    l.vms().ifPresent(b::setVms);
    l.vcpus().ifPresent(b::setVcpus);
    l.memoryMib().ifPresent(b::setMemoryMib);
    l.checkpoints().ifPresent(b::setCheckpoints);
    l.checkpointBytes().ifPresent(b::setCheckpointBytes);
    l.checkpointKeepLast().ifPresent(b::setCheckpointKeepLast);
    l.checkpointMaxAgeSeconds().ifPresent(b::setCheckpointMaxAgeSeconds);
    return b.build();
  }

  static QuotaUsage usage(Usage u) {
    return QuotaUsage.newBuilder().setVms(u.vms()).setVcpus(u.vcpus()).setMemoryMib(u.memoryMib())
        .setCheckpoints(u.checkpoints()).setCheckpointBytes(u.checkpointBytes()).build();
  }
}
