package dev.noid.controller.scale.hollow;

import java.util.concurrent.atomic.LongAdder;

/**
 * Create calls the hollow fleet answered, and the VMs they carried: how well the controller
 * batches its calls to the nodes.
 */
public final class CreateCallStats {
  private final LongAdder calls = new LongAdder();
  private final LongAdder vms = new LongAdder();

  void call(int carried) {
    calls.increment();
    vms.add(carried);
  }

  public long calls() {
    return calls.sum();
  }

  public long vms() {
    return vms.sum();
  }
}
