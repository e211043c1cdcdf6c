package dev.noid.controller.vms.store;

import dev.noid.controller.store.VmChangeRow;
import dev.noid.controller.vms.VmEntry;
import dev.noid.controller.watch.ChangeFeed;
import java.util.ArrayList;
import java.util.List;

/** Logged VM changes (the store's change log) as watch events. */
final class VmChangeEvents {
  private VmChangeEvents() {}

  static List<ChangeFeed.Event<VmEntry>> of(List<VmChangeRow> rows) {
    List<ChangeFeed.Event<VmEntry>> out = new ArrayList<>(rows.size());
    for (VmChangeRow r : rows) {
      out.add(new ChangeFeed.Event<>(r.revision(), switch (r.kind()) {
        case INSERT -> ChangeFeed.Type.ADDED;
        case UPDATE -> ChangeFeed.Type.MODIFIED;
        case DELETE -> ChangeFeed.Type.DELETED;
      }, VmTable.read(r.document())));
    }
    return out;
  }
}
