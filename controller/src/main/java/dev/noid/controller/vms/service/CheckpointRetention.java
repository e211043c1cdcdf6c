package dev.noid.controller.vms.service;

import dev.noid.controller.domain.NoidException;
import dev.noid.controller.quotas.QuotaLimits;
import dev.noid.controller.vms.CheckpointEntry;
import dev.noid.controller.vms.store.CheckpointTable;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deletes the checkpoints a user's retention no longer keeps (issue 23): of each VM's ready
 * checkpoints, those past the newest {@code checkpoint_keep_last} and those older than
 * {@code checkpoint_max_age_seconds}, but never a VM's newest one nor its newest durable one,
 * which its node-loss policy may need. Users without retention keep everything. A delete that
 * failed (its node or the archive was down) leaves the checkpoint DELETING, and the next pass
 * carries it on.
 */
public final class CheckpointRetention {
  private static final Logger log = LoggerFactory.getLogger(CheckpointRetention.class);

  private final CheckpointTable checkpoints;
  private final Checkpoints checkpointing;
  private final Function<String, QuotaLimits> limits;
  private final Clock clock;

  public CheckpointRetention(CheckpointTable checkpoints, Checkpoints checkpointing,
      Function<String, QuotaLimits> limits, Clock clock) {
    this.checkpoints = checkpoints;
    this.checkpointing = checkpointing;
    this.limits = limits;
    this.clock = clock;
  }

  /** One pass over every user's checkpoints; returns the ids deleted. */
  public List<String> apply() {
    Map<String, List<CheckpointEntry>> byOwner = new LinkedHashMap<>();
    for (CheckpointEntry c : checkpoints.all()) {
      byOwner.computeIfAbsent(c.owner(), o -> new ArrayList<>()).add(c);
    }
    List<String> deleted = new ArrayList<>();
    byOwner.forEach((owner, theirs) -> {
      List<CheckpointEntry> expired;
      try {
        QuotaLimits l = limits.apply(owner);
        expired = l.retains() ? expired(theirs, l, clock.instant()) : List.of();
      } catch (RuntimeException e) {
        // One user's limits must not stop the pass for the users after them.
        log.warn("retention skipped user {} this time: {}", owner, e.toString());
        return;
      }
      for (CheckpointEntry c : expired) {
        try {
          checkpointing.delete(c.id());
          deleted.add(c.id());
          log.atInfo().addKeyValue("user", owner).addKeyValue("checkpoint_id", c.id())
              .log("checkpoint {} of {} deleted by retention", c.id(), c.vmName());
        } catch (NoidException e) {
          log.warn("retention could not delete checkpoint {} of user {} yet: {}", c.id(), owner,
              e.getMessage());
        }
      }
    });
    return deleted;
  }

  /**
   * The oldest creation time a maximum age keeps. An age reaching past {@link Instant#MIN} (an
   * admin's "forever", up to 2^63 - 1 s) keeps everything; {@code now.minus} would throw.
   */
  private static Instant oldestKept(Instant now, OptionalLong maxAgeSeconds) {
    if (maxAgeSeconds.isEmpty()
        || maxAgeSeconds.getAsLong() >= now.getEpochSecond() - Instant.MIN.getEpochSecond()) {
      return Instant.MIN;
    }
    return now.minusSeconds(maxAgeSeconds.getAsLong());
  }

  /** Of one user's checkpoints, those {@code l} does not keep at {@code now}. */
  static List<CheckpointEntry> expired(List<CheckpointEntry> theirs, QuotaLimits l, Instant now) {
    Map<String, List<CheckpointEntry>> byVm = new LinkedHashMap<>();
    List<CheckpointEntry> out = new ArrayList<>();
    for (CheckpointEntry c : theirs) {
      if (c.ready()) {
        byVm.computeIfAbsent(c.vmId(), v -> new ArrayList<>()).add(c);
      } else if ("DELETING".equals(c.state())) {
        out.add(c); // a delete that failed before: carried on
      }
    }
    long keep = l.checkpointKeepLast().orElse(Long.MAX_VALUE);
    Instant oldest = oldestKept(now, l.checkpointMaxAgeSeconds());
    for (List<CheckpointEntry> ofVm : byVm.values()) {
      ofVm.sort(Comparator.comparing(CheckpointEntry::created).reversed());
      CheckpointEntry newestDurable = ofVm.stream().filter(CheckpointEntry::durable).findFirst()
          .orElse(null);
      for (int i = 1; i < ofVm.size(); i++) {
        CheckpointEntry c = ofVm.get(i);
        if (c != newestDurable && (i >= keep || c.created().isBefore(oldest))) {
          out.add(c);
        }
      }
    }
    return out;
  }
}
