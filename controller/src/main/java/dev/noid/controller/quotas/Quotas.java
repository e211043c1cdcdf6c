package dev.noid.controller.quotas;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.store.Store;
import dev.noid.controller.users.UserDirectory;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Per-user quotas, set by admins and kept in the store (issue 19 M2). A user without one is
 * unlimited. The tables that hold what quotas count (VMs, checkpoints) ask {@link #require}
 * under their own lock, together with taking it, so parallel requests cannot together pass a
 * limit that each would pass alone.
 */
public final class Quotas implements QuotaCheck {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Store store;
  private final Map<String, QuotaLimits> limits = new ConcurrentHashMap<>();

  public Quotas(Store store) {
    this.store = store;
    store.userQuotas().forEach((user, doc) -> limits.put(user, read(doc)));
  }

  /**
   * Quotas read again for each user whose token changes: a user removed on the host
   * ({@code noid-controller users remove}) takes its quota out of the store only, and a user
   * added again under that name must not inherit the old limits.
   */
  public static Quotas following(Store store, UserDirectory users) {
    Quotas quotas = new Quotas(store);
    users.onRevocation((user, why) -> quotas.reload(user));
    return quotas;
  }

  public QuotaLimits limits(String user) {
    return limits.getOrDefault(user, QuotaLimits.UNLIMITED);
  }

  /** Replaces the user's quota; NOT_FOUND if there is no such user. UNLIMITED clears it. */
  public void set(String user, QuotaLimits l) {
    boolean none = l.equals(QuotaLimits.UNLIMITED);
    if (!store.setUserQuota(user, none ? null : write(l))) {
      throw NoidException.notFound("user '" + user + "' not found");
    }
    if (none) {
      limits.remove(user);
    } else {
      limits.put(user, l);
    }
  }

  /** Forgets a removed user's quota (the store drops it with the user). */
  public void forget(String user) {
    limits.remove(user);
  }

  /** Reads the user's quota again from the store: none if the user is gone. */
  public void reload(String user) {
    String doc = store.userQuotas().get(user);
    if (doc == null) {
      limits.remove(user);
    } else {
      limits.put(user, read(doc));
    }
  }

  @Override
  public void require(String owner, Usage held, Usage asked) {
    QuotaLimits l = limits(owner);
    check("vms", held.vms(), asked.vms(), l.vms());
    check("vcpus", held.vcpus(), asked.vcpus(), l.vcpus());
    check("memory_mib", held.memoryMib(), asked.memoryMib(), l.memoryMib());
    check("checkpoints", held.checkpoints(), asked.checkpoints(), l.checkpoints());
    check("checkpoint_bytes", held.checkpointBytes(), asked.checkpointBytes(), l.checkpointBytes());
  }

  private static void check(String name, long held, long asked, OptionalLong limit) {
    if (asked > 0 && limit.isPresent() && held + asked > limit.getAsLong()) {
      throw new NoidException(NoidException.Code.QUOTA_EXCEEDED, "quota " + name + " exceeded: "
          + held + " held + " + asked + " requested > limit " + limit.getAsLong());
    }
  }

  private static String write(QuotaLimits l) {
    try {
      return JSON.writeValueAsString(l.toMap());
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static QuotaLimits read(String doc) {
    try {
      return QuotaLimits.fromMap(JSON.readValue(doc,
          JSON.getTypeFactory().constructMapType(Map.class, String.class, Long.class)));
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }
}
