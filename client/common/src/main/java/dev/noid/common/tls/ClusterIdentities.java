package dev.noid.common.tls;

import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * Who a cluster certificate speaks for. Only the cluster CA writes these names (SAN URIs), so,
 * unlike the subject CN that a CSR asks for, a node cannot claim the controller's identity or
 * another node's: agents take calls only from {@link #CONTROLLER}, and the controller takes a
 * node's calls only from that node's {@link #nodeUri}.
 */
public final class ClusterIdentities {
  public static final String CONTROLLER = "urn:noid:controller";
  private static final String NODE_PREFIX = "urn:noid:node:";
  /**
   * The DNS name the controller verifies when it dials a node. Under the reserved {@code
   * .invalid} top-level domain (RFC 6761) it never resolves, so no client of any real host
   * (an SDK reaching the controller, say) can be fooled by a node certificate carrying it.
   */
  private static final String NODE_DNS_SUFFIX = ".node.noid.invalid";

  private ClusterIdentities() {}

  public static String nodeUri(String node) {
    return NODE_PREFIX + node;
  }

  public static String nodeDnsName(String node) {
    return node + NODE_DNS_SUFFIX;
  }

  /** The SAN URIs of {@code cert} (none for certificates made before identities existed). */
  public static List<String> uris(X509Certificate cert) {
    List<String> out = new ArrayList<>();
    try {
      Collection<List<?>> names = cert.getSubjectAlternativeNames();
      if (names != null) {
        for (List<?> name : names) {
          if (Integer.valueOf(6).equals(name.get(0))) { // uniformResourceIdentifier
            out.add(String.valueOf(name.get(1)));
          }
        }
      }
    } catch (CertificateParsingException e) {
      return List.of();
    }
    return out;
  }

  public static boolean isController(X509Certificate cert) {
    return uris(cert).contains(CONTROLLER);
  }

  /** The node this certificate speaks for, or null when it names no node. */
  public static String nodeOf(X509Certificate cert) {
    for (String uri : uris(cert)) {
      if (uri.startsWith(NODE_PREFIX)) {
        return uri.substring(NODE_PREFIX.length());
      }
    }
    return null;
  }
}
