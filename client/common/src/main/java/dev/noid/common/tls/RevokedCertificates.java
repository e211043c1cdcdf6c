package dev.noid.common.tls;

import java.security.cert.X509Certificate;

/**
 * Which certificates of the cluster CA no longer speak for anyone (a removed node's). The CA
 * cannot take back a certificate it issued, so every process that accepts one asks this.
 */
@FunctionalInterface
public interface RevokedCertificates {
  RevokedCertificates NONE = cert -> false;

  boolean isRevoked(X509Certificate cert);
}
