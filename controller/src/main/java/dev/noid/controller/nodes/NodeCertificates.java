package dev.noid.controller.nodes;

import dev.noid.controller.store.Store;
import java.math.BigInteger;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Which node certificates still speak for their node: every certificate issued at join is
 * recorded by serial, and removing the node revokes them all. Checked on every node call, so
 * the deny list is kept in memory (loaded once from the store; it grows by one entry per
 * removed join, which is small).
 */
public final class NodeCertificates {
  private final Store store;
  private final Clock clock;
  private final Set<String> revoked = ConcurrentHashMap.newKeySet();

  public NodeCertificates(Store store, Clock clock) {
    this.store = store;
    this.clock = clock;
    revoked.addAll(store.revokedCertificateSerials());
  }

  static String serial(X509Certificate cert) {
    return serial(cert.getSerialNumber());
  }

  private static String serial(BigInteger serial) {
    return serial.toString(16);
  }

  void issued(String node, X509Certificate cert) {
    store.recordNodeCertificate(node, serial(cert), clock.instant());
  }

  /** The node is gone: none of the certificates it was ever given works any more. */
  public synchronized void revokeAll(String node) {
    store.revokeNodeCertificates(node, clock.instant());
    revoked.clear();
    revoked.addAll(store.revokedCertificateSerials());
  }

  public boolean isRevoked(X509Certificate cert) {
    return revoked.contains(serial(cert));
  }
}
