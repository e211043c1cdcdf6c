package dev.noid.controller.store;

/** One change to the VM table, for {@link Store#writeVms}: an insert, an update or a delete. */
public record VmWrite(Kind kind, VmRow row, String id) {
  public enum Kind { INSERT, UPDATE, DELETE }

  public static VmWrite insert(VmRow row) {
    return new VmWrite(Kind.INSERT, row, row.id());
  }

  public static VmWrite update(VmRow row) {
    return new VmWrite(Kind.UPDATE, row, row.id());
  }

  public static VmWrite delete(String id) {
    return new VmWrite(Kind.DELETE, null, id);
  }
}
