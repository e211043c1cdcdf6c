package dev.noid.controller.vms.store;

import dev.noid.controller.domain.NoidException;
import dev.noid.controller.domain.NoidException.Code;
import dev.noid.controller.store.Store;
import dev.noid.controller.vms.VmEntry;

/** Why a VM was not stored: its owner has one of that name, or its owner is no user any more. */
public final class InsertRefusals {
  private InsertRefusals() {}

  public static NoidException alreadyExists(VmEntry e) {
    return new NoidException(Code.ALREADY_EXISTS, "VM '" + e.name() + "' already exists");
  }

  /**
   * The store refused {@code e}. Asked only then: a user removed while their create was under
   * way (the store keeps no VM of a name no user holds) is rare, and costs the create one read.
   */
  static NoidException of(Store store, VmEntry e) {
    if (store.user(e.owner()).isPresent()) {
      return alreadyExists(e);
    }
    return new NoidException(Code.UNAUTHENTICATED, "user '" + e.owner() + "' was removed while"
        + " VM '" + e.name() + "' was being created: nothing was created");
  }
}
