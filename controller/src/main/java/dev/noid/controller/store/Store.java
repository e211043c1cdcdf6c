package dev.noid.controller.store;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * The controller's durable state: users, VMs, checkpoints, nodes and join tokens. Desired state
 * is written here before any agent is called. Implementations: {@link SqliteStore} (embedded,
 * the default) and {@link PostgresStore} (for fleets that run several controllers).
 */
public interface Store extends AutoCloseable {
  /** {@link #deletedIds}' kinds. */
  String DELETED_VM = "vm";
  String DELETED_CHECKPOINT = "checkpoint";

  // users
  /** @return false if a user of that name exists */
  boolean insertUser(UserRow user);

  Optional<UserRow> user(String name);

  Optional<UserRow> userByTokenHash(String tokenHash);

  List<UserRow> users();

  void updateUserToken(String name, String tokenHash, String tokenPrefix);

  /**
   * Removes the user; false, removing nothing, while they own a VM or checkpoint: those run or
   * lie on nodes, which only the controller's removal (UserService/RemoveUser) reaches.
   */
  boolean deleteUser(String name);

  /** Sets the user's quota document (null: none); false if there is no such user. */
  boolean setUserQuota(String name, String document);

  /** Every user's quota document, by user name; users without one are absent. */
  java.util.Map<String, String> userQuotas();

  // VMs and checkpoints: documents keyed by id, with the columns queries need
  /** @return false if (owner, name) is taken, or the owner is no user (removed meanwhile) */
  boolean insertVm(VmRow vm);

  void updateVm(VmRow vm);

  void deleteVm(String id);

  /**
   * Applies {@code writes} in order, all or none: one transaction for many changes, which is
   * how concurrent VM changes share one commit. For each write, false only for an insert whose
   * (owner, name) was taken or whose owner is no user.
   */
  default java.util.List<Boolean> writeVms(java.util.List<VmWrite> writes) {
    java.util.List<Boolean> out = new java.util.ArrayList<>(writes.size());
    for (VmWrite w : writes) {
      switch (w.kind()) {
        case INSERT -> out.add(insertVm(w.row()));
        case UPDATE -> {
          updateVm(w.row());
          out.add(true);
        }
        case DELETE -> {
          deleteVm(w.id());
          out.add(true);
        }
      }
    }
    return out;
  }

  List<VmRow> vms();

  /**
   * The VMs with up to {@code maxChanges} of the latest logged changes to them, read in one
   * snapshot (issue 22): a new leader or a follower replays those to watchers that resume. A
   * store that keeps no change log returns none, complete after its VMs' latest revision.
   */
  VmHistory vmHistory(int maxChanges);

  /** Up to {@code max} logged VM changes after {@code revision}, oldest first. */
  VmChanges vmChangesAfter(long revision, int max);

  void putCheckpoint(CheckpointRow checkpoint);

  void deleteCheckpoint(String id);

  List<CheckpointRow> checkpoints();

  /**
   * The ids of the VMs ({@code "vm"}) or checkpoints ({@code "checkpoint"}) this store deleted
   * most recently, newest first, at most {@code max}: kept with each delete, so that a node's
   * late copy of one is known for a leftover after a restart too.
   */
  List<String> deletedIds(String kind, int max);

  // images
  /** Records the image, replacing any of the same name. */
  void putImage(ImageRow image);

  List<ImageRow> images();

  /** @return false if there was no image of that name */
  boolean deleteImage(String name);

  // nodes
  void putNode(NodeRow node);

  void deleteNode(String name);

  List<NodeRow> nodes();

  // join tokens
  void insertJoinToken(String tokenHash, Instant expires);

  /** Marks the token used; true only the first time, and only before it expires. */
  boolean consumeJoinToken(String tokenHash, Instant now);

  /** Deletes the join tokens expired at {@code now}, used or not (issue 19 L4). */
  void purgeExpiredJoinTokens(Instant now);

  // node certificates: issued at join, revoked when the node is removed
  void recordNodeCertificate(String node, String serial, Instant issued);

  void revokeNodeCertificates(String node, Instant at);

  java.util.Set<String> revokedCertificateSerials();

  /** A cheap round trip, for health. */
  boolean ping();

  @Override
  void close();
}
