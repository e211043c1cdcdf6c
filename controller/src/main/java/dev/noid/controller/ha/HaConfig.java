package dev.noid.controller.ha;

import java.time.Duration;

/**
 * How this controller takes part in HA: the address clients and agents reach it at (stored
 * with the lease, handed to agents at join), and the lease's length.
 */
public record HaConfig(String advertiseAddress, Duration lease) {}
