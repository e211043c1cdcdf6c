package dev.noid.controller.nodes;

import jakarta.inject.Qualifier;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;

/** How often agents are told to heartbeat. */
@Qualifier
@Retention(RetentionPolicy.RUNTIME)
public @interface HeartbeatInterval {}
