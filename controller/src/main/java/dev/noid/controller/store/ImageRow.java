package dev.noid.controller.store;

/** A fleet image as stored: its name, the digest it points at and what is known of it. */
public record ImageRow(String name, String digest, long sizeBytes, String origin,
    String architecture, long createdMs) {}
