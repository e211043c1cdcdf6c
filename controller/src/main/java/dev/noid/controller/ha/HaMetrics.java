package dev.noid.controller.ha;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;

/**
 * {@code noid_controller_leader} (1 on the leader), {@code noid_controller_epoch} and
 * {@code noid_controller_failovers_total} (takeovers by this controller: summed over all
 * controllers, the cluster's failovers). Every controller exports them, follower or not.
 */
public final class HaMetrics implements MeterBinder {
  private final Leadership leadership;

  public HaMetrics(Leadership leadership) {
    this.leadership = leadership;
  }

  @Override
  public void bindTo(MeterRegistry registry) {
    Gauge.builder("noid.controller.leader", leadership, l -> l.leads() ? 1 : 0)
        .description("1 when this controller leads the cluster, else 0").register(registry);
    Gauge.builder("noid.controller.epoch", leadership, l -> l.view().epoch())
        .description("Epoch of the leader's lease as this controller last saw it")
        .register(registry);
    FunctionCounter.builder("noid.controller.failovers", leadership, Leadership::takeovers)
        .description("Times this controller took the lead over from another controller")
        .register(registry);
  }
}
