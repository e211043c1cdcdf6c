package dev.noid.controller.nodes;

import dev.noid.common.tls.KeyAndCertificate;
import dev.noid.common.tls.RevokedCertificates;
import dev.noid.controller.pki.RevocationLists;
import dev.noid.controller.store.Store;
import java.math.BigInteger;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Which node certificates still speak for their node: every certificate issued at join is
 * recorded by serial, and removing the node revokes them all. Checked on every node call, so
 * the deny list is kept in memory (loaded from the store when this controller starts leading;
 * only the leader removes nodes; it grows by one entry per removed join, which is small).
 * Agents get the same list, signed by the CA, with their heartbeats.
 */
public final class NodeCertificates implements RevokedCertificates {
  /** A signed list and its CRL number (the count of revoked certificates: they only grow). */
  public record SignedList(long number, byte[] der) {}

  private final Store store;
  private final Clock clock;
  private final KeyAndCertificate ca;
  private final Set<String> revoked = ConcurrentHashMap.newKeySet();
  private volatile SignedList list;

  public NodeCertificates(Store store, Clock clock, KeyAndCertificate ca) {
    this.store = store;
    this.clock = clock;
    this.ca = ca;
    reload();
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
    reload();
  }

  private synchronized void reload() {
    Set<String> now = store.revokedCertificateSerials();
    revoked.addAll(now);
    revoked.retainAll(now);
    list = new SignedList(now.size(),
        RevocationLists.sign(ca, now.stream().sorted().toList(), now.size(), clock.instant()));
  }

  @Override
  public boolean isRevoked(X509Certificate cert) {
    return revoked.contains(serial(cert));
  }

  /**
   * The signed list, for an agent whose last list is number {@code held}; null when that is
   * this one. Any other number gets it, lower or higher: the agent keeps every list it took.
   */
  public SignedList listFor(long held) {
    SignedList current = list;
    return current.number() == held ? null : current;
  }
}
