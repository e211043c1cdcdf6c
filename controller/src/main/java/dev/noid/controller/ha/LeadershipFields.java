package dev.noid.controller.ha;

import com.fasterxml.jackson.databind.node.ObjectNode;

/** The fields issue 22 adds to {@code /health}, the same on leader and followers. */
public final class LeadershipFields {
  private LeadershipFields() {}

  public static void put(ObjectNode root, Leadership.View v) {
    root.put("role", v.role() == Leadership.Role.LEADER ? "leader" : "follower");
    root.put("leader", v.leaderAddress());
    root.put("epoch", v.epoch());
  }
}
