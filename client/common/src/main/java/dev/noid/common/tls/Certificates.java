package dev.noid.common.tls;

import java.io.ByteArrayInputStream;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Date;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequest;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/**
 * Key pairs (EC P-256: small and fast to generate at start-up), certificate signing requests,
 * and certificates for the cluster CA, servers and nodes.
 */
public final class Certificates {
  private static final String SIGNATURE = "SHA256withECDSA";
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");

  private Certificates() {}

  public static KeyPair newKeyPair() {
    try {
      KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
      generator.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
      return generator.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("EC P-256 is not available", e);
    }
  }

  /** A self-signed CA certificate (ten years). */
  public static KeyAndCertificate newCertificateAuthority(String commonName) {
    KeyPair pair = newKeyPair();
    X500Name subject = new X500Name("CN=" + commonName);
    try {
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      X509v3CertificateBuilder builder = builder(subject, subject, pair.getPublic(),
          Duration.ofDays(3650));
      builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
      builder.addExtension(Extension.keyUsage, true,
          new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign | KeyUsage.digitalSignature));
      builder.addExtension(Extension.subjectKeyIdentifier, false,
          ext.createSubjectKeyIdentifier(pair.getPublic()));
      return new KeyAndCertificate(pair.getPrivate(), List.of(sign(builder, pair.getPrivate())));
    } catch (GeneralSecurityException | java.io.IOException e) {
      throw new IllegalStateException("cannot create CA certificate", e);
    }
  }

  /**
   * A leaf certificate signed by {@code issuer}, usable both as a TLS server and as a TLS client
   * (nodes are both). {@code names} become DNS or IP subject alternative names.
   */
  public static X509Certificate issue(KeyAndCertificate issuer, String commonName,
      PublicKey subjectKey, Collection<String> names, Duration validity) {
    return issue(issuer, commonName, subjectKey, names, List.of(), validity);
  }

  /**
   * As {@link #issue(KeyAndCertificate, String, PublicKey, Collection, Duration)}, with
   * {@code uris} as URI subject alternative names: the identities of {@link ClusterIdentities},
   * which only the issuer sets.
   */
  public static X509Certificate issue(KeyAndCertificate issuer, String commonName,
      PublicKey subjectKey, Collection<String> names, Collection<String> uris, Duration validity) {
    try {
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      X509v3CertificateBuilder builder = builder(
          X500Name.getInstance(issuer.certificate().getSubjectX500Principal().getEncoded()),
          new X500Name("CN=" + commonName), subjectKey, validity);
      builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
      builder.addExtension(Extension.keyUsage, true,
          new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyAgreement));
      builder.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(
          new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
      builder.addExtension(Extension.authorityKeyIdentifier, false,
          ext.createAuthorityKeyIdentifier(issuer.certificate()));
      List<GeneralName> alt = new ArrayList<>();
      for (String name : Set.copyOf(names)) {
        alt.add(IPV4.matcher(name).matches() || name.contains(":")
            ? new GeneralName(GeneralName.iPAddress, name)
            : new GeneralName(GeneralName.dNSName, name));
      }
      for (String uri : Set.copyOf(uris)) {
        alt.add(new GeneralName(GeneralName.uniformResourceIdentifier, uri));
      }
      if (!alt.isEmpty()) {
        builder.addExtension(Extension.subjectAlternativeName, false,
            new GeneralNames(alt.toArray(GeneralName[]::new)));
      }
      return sign(builder, issuer.key());
    } catch (GeneralSecurityException | java.io.IOException e) {
      throw new IllegalStateException("cannot issue certificate for " + commonName, e);
    }
  }

  /** A server key and certificate for this host, signed by {@code issuer}. */
  public static KeyAndCertificate newServerCertificate(KeyAndCertificate issuer, String commonName,
      Collection<String> extraNames) {
    return newServerCertificate(issuer, commonName, extraNames, List.of());
  }

  /** As above, carrying {@code uris} (the controller's identity, for its own certificate). */
  public static KeyAndCertificate newServerCertificate(KeyAndCertificate issuer, String commonName,
      Collection<String> extraNames, Collection<String> uris) {
    KeyPair pair = newKeyPair();
    List<String> names = new ArrayList<>(extraNames);
    names.addAll(List.of("localhost", "127.0.0.1", "::1"));
    try {
      names.add(InetAddress.getLocalHost().getHostName());
    } catch (UnknownHostException e) {
      // a host without a resolvable name is still reachable as localhost or by address
    }
    X509Certificate cert = issue(issuer, commonName, pair.getPublic(), names, uris,
        Duration.ofDays(825));
    return new KeyAndCertificate(pair.getPrivate(), List.of(cert, issuer.certificate()));
  }

  public static String newCsrPem(KeyPair pair, String commonName) {
    try {
      ContentSigner signer = new JcaContentSignerBuilder(SIGNATURE).build(pair.getPrivate());
      PKCS10CertificationRequest csr = new JcaPKCS10CertificationRequestBuilder(
          new X500Principal("CN=" + commonName), pair.getPublic()).build(signer);
      return Pem.encode(csr);
    } catch (OperatorCreationException e) {
      throw new IllegalStateException("cannot create certificate request", e);
    }
  }

  /** The public key of a CSR, after checking the CSR's own signature. */
  public static PublicKey verifiedKey(PKCS10CertificationRequest csr) {
    try {
      JcaPKCS10CertificationRequest jca = new JcaPKCS10CertificationRequest(csr);
      if (!csr.isSignatureValid(new org.bouncycastle.operator.jcajce
          .JcaContentVerifierProviderBuilder().build(jca.getPublicKey()))) {
        throw new IllegalArgumentException("certificate request signature is invalid");
      }
      return jca.getPublicKey();
    } catch (GeneralSecurityException | OperatorCreationException
        | org.bouncycastle.pkcs.PKCSException e) {
      throw new IllegalArgumentException("unusable certificate request: " + e.getMessage(), e);
    }
  }

  public static String commonName(X509Certificate cert) {
    String dn = cert.getSubjectX500Principal().getName();
    for (String part : dn.split(",")) {
      String p = part.strip();
      if (p.startsWith("CN=")) {
        return p.substring(3);
      }
    }
    return "";
  }

  public static List<X509Certificate> parseAll(String pem) {
    try {
      CertificateFactory factory = CertificateFactory.getInstance("X.509");
      List<X509Certificate> out = new ArrayList<>();
      for (var c : factory.generateCertificates(
          new ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII)))) {
        out.add((X509Certificate) c);
      }
      return out;
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException("unreadable certificates: " + e.getMessage(), e);
    }
  }

  private static X509v3CertificateBuilder builder(X500Name issuer, X500Name subject,
      PublicKey key, Duration validity) {
    Instant now = Instant.now();
    return new JcaX509v3CertificateBuilder(issuer, new BigInteger(127, RANDOM),
        Date.from(now.minus(Duration.ofMinutes(5))), Date.from(now.plus(validity)), subject, key);
  }

  private static X509Certificate sign(X509v3CertificateBuilder builder, PrivateKey key)
      throws GeneralSecurityException {
    try {
      ContentSigner signer = new JcaContentSignerBuilder(SIGNATURE).build(key);
      return new JcaX509CertificateConverter().getCertificate(builder.build(signer));
    } catch (OperatorCreationException e) {
      throw new GeneralSecurityException(e);
    }
  }
}
