package dev.noid.agent.golden;

import java.util.Locale;

/**
 * When the agent makes golden snapshots. {@code ON_DEMAND} is the default: a snapshot costs
 * one throwaway boot and about the guest's memory in disk space, so only the (image, cpus,
 * memory) shapes that are really created get one.
 */
public enum GoldenMode {
  /** Every create boots cold. */
  OFF,
  /** The first create of a shape builds its golden snapshot, later ones restore from it. */
  ON_DEMAND,
  /** As ON_DEMAND, and the configured shapes are built when the agent starts. */
  AHEAD;

  public static GoldenMode parse(String value) {
    return switch (value.toLowerCase(Locale.ROOT)) {
      case "off" -> OFF;
      case "on-demand" -> ON_DEMAND;
      case "ahead" -> AHEAD;
      default -> throw new IllegalArgumentException(
          "'golden' must be off, on-demand or ahead; got '" + value + "'");
    };
  }
}
