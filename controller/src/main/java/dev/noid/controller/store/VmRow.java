package dev.noid.controller.store;

/** A VM as stored: the columns that are queried, plus the whole record as a JSON document. */
public record VmRow(String id, String owner, String name, String node, String state, long revision,
    String document) {

  public VmRow withRevision(long r) {
    return new VmRow(id, owner, name, node, state, r, document);
  }
}
