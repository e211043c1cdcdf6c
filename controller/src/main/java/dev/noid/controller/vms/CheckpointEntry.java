package dev.noid.controller.vms;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.time.Instant;

/** A checkpoint as the controller keeps it; its files live on {@code node}. */
@JsonIgnoreProperties(ignoreUnknown = true)
public record CheckpointEntry(String id, String owner, String vmId, String vmName, String label,
    String node, String state, long sizeBytes, long durationMs, int cpus, int memMib,
    String image, String statusMessage, Instant created) {}
