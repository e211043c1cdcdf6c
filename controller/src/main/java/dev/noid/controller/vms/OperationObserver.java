package dev.noid.controller.vms;

import java.time.Duration;

/** Told of finished operations, for metrics; implementations must be quick and never throw. */
public interface OperationObserver {
  void vmCreated(Duration duration);

  void checkpointCreated(Duration duration);

  /** operation: create, start, stop, checkpoint, restore, destroy. */
  void operationFailed(String operation);

  OperationObserver NONE = new OperationObserver() {
    @Override
    public void vmCreated(Duration duration) {}

    @Override
    public void checkpointCreated(Duration duration) {}

    @Override
    public void operationFailed(String operation) {}
  };
}
