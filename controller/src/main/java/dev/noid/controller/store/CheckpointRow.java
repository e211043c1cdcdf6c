package dev.noid.controller.store;

/** A checkpoint as stored: queried columns plus the whole record as JSON. */
public record CheckpointRow(String id, String owner, String vmId, String node, String document) {}
