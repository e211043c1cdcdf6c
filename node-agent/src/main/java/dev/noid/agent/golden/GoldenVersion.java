package dev.noid.agent.golden;

/**
 * What a golden snapshot was made from, beyond its key: when either differs from what the node
 * has now, the snapshot is stale (a new kernel or initramfs under the same image name, or a
 * VMM upgrade whose state format may not load).
 */
public record GoldenVersion(String imageDigest, String hypervisorVersion) {}
