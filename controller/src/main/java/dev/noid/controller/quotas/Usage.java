package dev.noid.controller.quotas;

/** What a user holds (or asks for): VMs, vCPUs, MiB of memory, checkpoints, checkpoint bytes. */
public record Usage(long vms, long vcpus, long memoryMib, long checkpoints, long checkpointBytes) {
  public static final Usage NONE = new Usage(0, 0, 0, 0, 0);

  public static Usage ofVm(long vcpus, long memoryMib) {
    return new Usage(1, vcpus, memoryMib, 0, 0);
  }

  public static Usage ofCheckpoint(long bytes) {
    return new Usage(0, 0, 0, 1, bytes);
  }

  public Usage plus(Usage o) {
    return new Usage(vms + o.vms, vcpus + o.vcpus, memoryMib + o.memoryMib,
        checkpoints + o.checkpoints, checkpointBytes + o.checkpointBytes);
  }

  public Usage minus(Usage o) {
    return new Usage(Math.max(0, vms - o.vms), Math.max(0, vcpus - o.vcpus),
        Math.max(0, memoryMib - o.memoryMib), Math.max(0, checkpoints - o.checkpoints),
        Math.max(0, checkpointBytes - o.checkpointBytes));
  }
}
