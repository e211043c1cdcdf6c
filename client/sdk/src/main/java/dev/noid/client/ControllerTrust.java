package dev.noid.client;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.List;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Trust in a controller's certificate: it chains to the trusted CA and names the host dialled,
 * as any TLS client checks, and it is not a node's. The cluster CA gives each node a certificate
 * naming its agent's address, an IP literal among them, and cannot tell whose address that is:
 * a node that joined with the controller's address would otherwise pass for the controller with
 * everyone who dials that address, and receive their tokens. Operators' own controller
 * certificates ({@code --tls-cert}) name no cluster identity and are taken as before.
 */
public final class ControllerTrust extends X509ExtendedTrustManager {
  /** The SAN URI the cluster CA writes into node certificates only (ClusterIdentities). */
  private static final String NODE_URI_PREFIX = "urn:noid:node:";
  private static final int URI_NAME = 6;
  private final X509ExtendedTrustManager ca;

  private ControllerTrust(X509ExtendedTrustManager ca) {
    this.ca = ca;
  }

  /** As {@link #of(Path...)} with one file: kept for callers compiled against it. */
  public static TrustManager of(Path caFile) {
    return of(new Path[] {caFile});
  }

  /**
   * Trust in controllers whose certificates any of {@code caFiles} (PEM, one or more CA
   * certificates each) issued; UncheckedIOException when one cannot be read.
   */
  public static TrustManager of(Path... caFiles) {
    try {
      KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
      store.load(null, null);
      int i = 0;
      for (Path caFile : caFiles) {
        for (Certificate c : certificates(caFile)) {
          store.setCertificateEntry("ca" + i++, c);
        }
      }
      TrustManagerFactory tmf =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(store);
      for (TrustManager m : tmf.getTrustManagers()) {
        if (m instanceof X509ExtendedTrustManager x) {
          return new ControllerTrust(x);
        }
      }
      throw new IllegalStateException("no X.509 trust manager for " + List.of(caFiles));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot build trust from " + List.of(caFiles), e);
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException("CA files " + List.of(caFiles)
          + " hold no usable certificate: " + e.getMessage(), e);
    }
  }

  private static Collection<? extends Certificate> certificates(Path caFile) {
    try (InputStream in = Files.newInputStream(caFile)) {
      return CertificateFactory.getInstance("X.509").generateCertificates(in);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read CA file " + caFile, e);
    } catch (CertificateException e) {
      throw new IllegalArgumentException("CA file " + caFile + " holds no usable certificate: "
          + e.getMessage(), e);
    }
  }

  private static void refuseNodes(X509Certificate[] chain) throws CertificateException {
    try {
      Collection<List<?>> names = chain[0].getSubjectAlternativeNames();
      for (List<?> name : names == null ? List.<List<?>>of() : names) {
        if (Integer.valueOf(URI_NAME).equals(name.get(0))
            && String.valueOf(name.get(1)).startsWith(NODE_URI_PREFIX)) {
          throw new CertificateException("the server's certificate is a node's ("
              + name.get(1) + "), not the controller's");
        }
      }
    } catch (CertificateParsingException e) {
      throw new CertificateException("unreadable names in the server's certificate", e);
    }
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
      throws CertificateException {
    ca.checkServerTrusted(chain, authType, engine);
    refuseNodes(chain);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
      throws CertificateException {
    ca.checkServerTrusted(chain, authType, socket);
    refuseNodes(chain);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType)
      throws CertificateException {
    ca.checkServerTrusted(chain, authType);
    refuseNodes(chain);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
      throws CertificateException {
    throw new CertificateException("trust in a controller is for clients only");
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
      throws CertificateException {
    throw new CertificateException("trust in a controller is for clients only");
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType)
      throws CertificateException {
    throw new CertificateException("trust in a controller is for clients only");
  }

  @Override
  public X509Certificate[] getAcceptedIssuers() {
    return ca.getAcceptedIssuers();
  }
}
