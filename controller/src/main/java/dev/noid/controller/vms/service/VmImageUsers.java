package dev.noid.controller.vms.service;

import dev.noid.controller.images.ImageRefs;
import dev.noid.controller.images.ImageUsers;
import dev.noid.controller.vms.CheckpointEntry;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.vms.store.CheckpointTable;
import dev.noid.controller.vms.store.VmTable;
import java.util.ArrayList;
import java.util.List;

/** VMs and checkpoints made from an image: their disks are overlays on it. */
public final class VmImageUsers implements ImageUsers {
  private final VmTable vms;
  private final CheckpointTable checkpoints;

  public VmImageUsers(VmTable vms, CheckpointTable checkpoints) {
    this.vms = vms;
    this.checkpoints = checkpoints;
  }

  @Override
  public List<String> using(String digest) {
    List<String> out = new ArrayList<>();
    for (VmEntry e : vms.all()) {
      if (ImageRefs.digestOf(e.image()).equals(digest)) {
        out.add("VM " + e.owner() + "/" + e.name());
      }
    }
    for (CheckpointEntry c : checkpoints.all()) {
      if (ImageRefs.digestOf(c.image()).equals(digest)) {
        out.add("checkpoint " + c.id());
      }
    }
    return out;
  }
}
