package dev.noid.controller.store;

/**
 * One change to the VM table, for {@link Store#writeVms}: an insert, an update or a delete. A
 * delete carries the VM as it was, with the delete's revision, for the change log.
 */
public record VmWrite(Kind kind, VmRow row, String id) {
  public enum Kind { INSERT, UPDATE, DELETE }

  public static VmWrite insert(VmRow row) {
    return new VmWrite(Kind.INSERT, row, row.id());
  }

  public static VmWrite update(VmRow row) {
    return new VmWrite(Kind.UPDATE, row, row.id());
  }

  public static VmWrite delete(VmRow row) {
    return new VmWrite(Kind.DELETE, row, row.id());
  }
}
