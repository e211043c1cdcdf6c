package dev.noid.agent.vm;

/** What this node offers to VMs, in total; one VM may use at most all of it. */
public record NodeLimits(int cpus, long memoryMib) {}
