package dev.noid.controller.vms.grpc;

import dev.noid.controller.api.ProtoMapper;
import dev.noid.controller.api.WatchStream;
import dev.noid.api.v1.WatchVmsResponse;
import dev.noid.api.v1.WatchVmsResponse.EventType;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.watch.ChangeFeed;

/** VM changes as WatchVms responses. */
final class VmWatchResponses implements WatchStream.Responses<VmEntry, WatchVmsResponse> {
  @Override
  public WatchVmsResponse existing(VmEntry vm) {
    return WatchVmsResponse.newBuilder().setType(EventType.EVENT_TYPE_EXISTING)
        .setVm(ProtoMapper.vm(vm)).setRevision(vm.revision()).build();
  }

  @Override
  public WatchVmsResponse change(ChangeFeed.Event<VmEntry> e) {
    return WatchVmsResponse.newBuilder().setType(switch (e.type()) {
      case ADDED -> EventType.EVENT_TYPE_ADDED;
      case MODIFIED -> EventType.EVENT_TYPE_MODIFIED;
      case DELETED -> EventType.EVENT_TYPE_DELETED;
    }).setVm(ProtoMapper.vm(e.item())).setRevision(e.revision()).build();
  }

  @Override
  public WatchVmsResponse synced(long revision) {
    return WatchVmsResponse.newBuilder().setType(EventType.EVENT_TYPE_SYNCED)
        .setRevision(revision).build();
  }
}
