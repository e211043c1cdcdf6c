package dev.noid.common.tls;

import io.grpc.ChannelCredentials;
import io.grpc.ServerCredentials;
import io.grpc.TlsChannelCredentials;
import io.grpc.TlsServerCredentials;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * The TLS material of one process on disk (certificate chain, key, and the CA that it trusts
 * for peers), turned into gRPC credentials and a JDK SSLContext. Peers' certificates that
 * {@code revoked} names are refused at the handshake, as an expired one would be.
 */
public record TlsFiles(Path certificate, Path key, Path trustedCa, RevokedCertificates revoked) {

  public TlsFiles(Path certificate, Path key, Path trustedCa) {
    this(certificate, key, trustedCa, RevokedCertificates.NONE);
  }

  /** The same files, refusing also the peers {@code list} names. */
  public TlsFiles refusing(RevokedCertificates list) {
    return new TlsFiles(certificate, key, trustedCa, list);
  }

  /** gRPC server credentials; {@code clientAuth} decides whether peers must show a certificate. */
  public ServerCredentials serverCredentials(TlsServerCredentials.ClientAuth clientAuth) {
    try {
      TlsServerCredentials.Builder builder = TlsServerCredentials.newBuilder()
          .keyManager(certificate.toFile(), key.toFile());
      if (trustedCa != null) {
        builder.trustManager(trustManagers(trustedCa, revoked));
      }
      return builder.clientAuth(clientAuth).build();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot load TLS material " + certificate + ", " + key, e);
    }
  }

  /** gRPC client credentials presenting this process's certificate (mutual TLS). */
  public ChannelCredentials mutualClientCredentials() {
    try {
      return TlsChannelCredentials.newBuilder()
          .keyManager(certificate.toFile(), key.toFile())
          .trustManager(trustManagers(trustedCa, revoked))
          .build();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot load TLS material " + certificate + ", " + key, e);
    }
  }

  /**
   * Client credentials for mutual TLS that many channels can share: the key material is parsed
   * and the TLS context built once here, where {@link #mutualClientCredentials} makes each
   * channel build its own (about 10 ms of CPU each, which at 1,000 nodes is 10 s).
   */
  public ChannelCredentials sharedMutualClientCredentials() {
    try {
      return io.grpc.netty.shaded.io.grpc.netty.NettySslContextChannelCredentials.create(
          io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts.forClient()
              .keyManager(certificate.toFile(), key.toFile())
              .trustManager(trustManagers(trustedCa, revoked)[0])
              .build());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot load TLS material " + certificate + ", " + key, e);
    }
  }

  /** A JDK SSLContext serving this certificate (for the HTTPS endpoints). */
  public SSLContext sslContext() {
    return context(keyManagers(), null, certificate);
  }

  /**
   * A JDK SSLContext for mutual TLS over a plain socket: this certificate, and peers only of
   * the trusted CA (agent to agent streams that are not gRPC).
   */
  public SSLContext mutualSslContext() {
    return context(keyManagers(), trustManagers(trustedCa, revoked), certificate);
  }

  /** An SSLContext that trusts only {@code caFile} (for HTTPS clients and tests). */
  public static SSLContext trusting(Path caFile) {
    return context(null, trustManagers(caFile, RevokedCertificates.NONE), caFile);
  }

  private KeyManager[] keyManagers() {
    KeyAndCertificate material = KeyAndCertificate.read(certificate, key);
    try {
      KeyStore store = KeyStore.getInstance("PKCS12");
      store.load(null, null);
      char[] password = new char[0];
      store.setKeyEntry("server", material.key(), password,
          material.chain().toArray(Certificate[]::new));
      KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(store, password);
      return kmf.getKeyManagers();
    } catch (GeneralSecurityException | IOException e) {
      throw new IllegalStateException("cannot build an SSL context from " + certificate, e);
    }
  }

  private static TrustManager[] trustManagers(Path caFile, RevokedCertificates revoked) {
    try {
      KeyStore store = KeyStore.getInstance("PKCS12");
      store.load(null, null);
      int i = 0;
      for (Certificate c : Certificates.parseAll(Pem.read(caFile))) {
        store.setCertificateEntry("ca" + i++, c);
      }
      TrustManagerFactory tmf =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(store);
      TrustManager[] managers = tmf.getTrustManagers();
      if (revoked != RevokedCertificates.NONE) {
        for (int j = 0; j < managers.length; j++) {
          if (managers[j] instanceof X509ExtendedTrustManager x) {
            managers[j] = new RevocationTrustManager(x, revoked);
          }
        }
      }
      return managers;
    } catch (GeneralSecurityException | IOException e) {
      throw new IllegalStateException("cannot trust " + caFile, e);
    }
  }

  private static SSLContext context(KeyManager[] keys, TrustManager[] trust, Path what) {
    try {
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(keys, trust, null);
      return context;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot build an SSL context from " + what, e);
    }
  }
}
