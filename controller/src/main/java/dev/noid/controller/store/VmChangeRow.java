package dev.noid.controller.store;

/**
 * One entry of the VM change log (issue 22): the change's revision and kind, and the VM's
 * document after it (for a delete, the VM as it was).
 */
public record VmChangeRow(long revision, VmWrite.Kind kind, String document) {}
