package dev.noid.controller.store;

import java.time.Instant;

/** A user as stored: only the SHA-256 of the token, and its first characters for recognition. */
public record UserRow(String name, String role, String tokenHash, String tokenPrefix,
    Instant created) {}
