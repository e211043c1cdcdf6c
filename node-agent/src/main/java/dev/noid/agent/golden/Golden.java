package dev.noid.agent.golden;

import java.nio.file.Path;

/**
 * A golden snapshot checked and ready to restore from: {@code dir} holds the VMM state (in the
 * form the hypervisor port's {@code restore} reads) and {@code disk}, the guest's disk as it was
 * when the state was saved.
 */
public record Golden(GoldenKey key, String buildId, Path dir, Path disk) {}
