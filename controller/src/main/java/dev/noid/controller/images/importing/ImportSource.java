package dev.noid.controller.images.importing;

import dev.noid.controller.domain.NoidException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Where an image comes from. Each source may carry the sha256 the admin expects (hex, with or
 * without "sha256:"): of the file for the file sources, of the manifest (or index) the
 * reference resolves to for an OCI layout or a registry. A mismatch refuses the import.
 */
public sealed interface ImportSource {
  Pattern SHA256_HEX = Pattern.compile("[0-9a-f]{64}");

  /** The expected sha256 as 64 lower-case hex digits, if one was given. */
  Optional<String> expectedSha256();

  /** An OCI image layout directory; an empty ref means the layout's only manifest. */
  record OciLayout(Path dir, String ref, Optional<String> expectedSha256) implements ImportSource {
    public OciLayout {
      Objects.requireNonNull(dir, "dir");
      ref = ref == null ? "" : ref;
      expectedSha256 = normalise(expectedSha256);
    }

    public OciLayout(Path dir, String ref) {
      this(dir, ref, Optional.empty());
    }
  }

  /** A `docker save` tar or an OCI archive; which one is read from its contents. */
  record Archive(Path file, Optional<String> expectedSha256) implements ImportSource {
    public Archive {
      Objects.requireNonNull(file, "file");
      expectedSha256 = normalise(expectedSha256);
    }

    public Archive(Path file) {
      this(file, Optional.empty());
    }
  }

  /**
   * An image in an OCI distribution registry; reference is a tag or "sha256:HEX". Plain HTTP
   * is given to skopeo as no TLS verification, which is also HTTPS taking any certificate: off
   * the host, a man in the middle could answer the tag with a manifest of its own. So it needs
   * the image pinned (an expected sha256, or a digest reference) unless the host is loopback.
   */
  record Registry(String host, String repository, String reference, boolean plainHttp,
      Optional<String> expectedSha256) implements ImportSource {
    public Registry {
      Objects.requireNonNull(host, "host");
      Objects.requireNonNull(repository, "repository");
      Objects.requireNonNull(reference, "reference");
      expectedSha256 = normalise(expectedSha256);
      if (plainHttp && expectedSha256.isEmpty() && !reference.startsWith("sha256:")
          && !isLoopback(host)) {
        throw NoidException.invalid("plain_http (--plain-http) for " + host + ", not a loopback"
            + " registry, needs the image's digest (sha256, --sha256, or @sha256: in the"
            + " reference): without TLS verification anyone on the way could serve another"
            + " image under the tag");
      }
    }

    public Registry(String host, String repository, String reference, boolean plainHttp) {
      this(host, repository, reference, plainHttp, Optional.empty());
    }

    /** Parses {@code oci://HOST[:PORT]/REPO[:TAG|@sha256:HEX]}; no tag means "latest". */
    public static Registry parse(String uri, boolean plainHttp) {
      return parse(uri, plainHttp, Optional.empty());
    }

    public static Registry parse(String uri, boolean plainHttp, Optional<String> expectedSha256) {
      return RegistryUri.parse(uri, plainHttp, expectedSha256);
    }

    /** localhost, 127.0.0.0/8 or ::1, by name or literal address, never by a lookup. */
    static boolean isLoopback(String hostPort) {
      int close = hostPort.indexOf(']');
      String host = hostPort.startsWith("[") && close > 0
          ? hostPort.substring(1, close) : hostPort.replaceFirst(":[0-9]+$", "");
      if (host.equalsIgnoreCase("localhost")) {
        return true;
      }
      // Only the dotted quad: "2130706433" is a literal to Java but a name to a resolver.
      if (host.matches("127(\\.(25[0-5]|2[0-4][0-9]|1?[0-9]{1,2})){3}")) {
        return true;
      }
      if (!host.contains(":")) {
        return false;
      }
      try {
        // With a colon it is parsed as IPv6, never looked up.
        return InetAddress.getByName(host).isLoopbackAddress();
      } catch (UnknownHostException e) {
        return false;
      }
    }

    public boolean byDigest() {
      return reference.startsWith("sha256:");
    }

    /** The reference in the form skopeo's docker:// transport and people read. */
    public String imageName() {
      return host + "/" + repository + (byDigest() ? "@" : ":") + reference;
    }
  }

  /** A root filesystem as a tar, optionally compressed with gzip, xz or zstd. */
  record RootfsTarball(Path file, Optional<String> expectedSha256) implements ImportSource {
    public RootfsTarball {
      Objects.requireNonNull(file, "file");
      expectedSha256 = normalise(expectedSha256);
    }

    public RootfsTarball(Path file) {
      this(file, Optional.empty());
    }
  }

  /** A ready ext4 root filesystem file, checked and taken as it is. */
  record Ext4File(Path file, Optional<String> expectedSha256) implements ImportSource {
    public Ext4File {
      Objects.requireNonNull(file, "file");
      expectedSha256 = normalise(expectedSha256);
    }

    public Ext4File(Path file) {
      this(file, Optional.empty());
    }
  }

  private static Optional<String> normalise(Optional<String> expected) {
    Objects.requireNonNull(expected, "expectedSha256");
    return expected.map(e -> {
      String hex = e.strip().toLowerCase(Locale.ROOT);
      hex = hex.startsWith("sha256:") ? hex.substring("sha256:".length()) : hex;
      if (!SHA256_HEX.matcher(hex).matches()) {
        throw NoidException.invalid("expected sha256 '" + e + "' is not 64 hex digits");
      }
      return hex;
    });
  }
}
