package dev.noid.controller.images.importing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.noid.controller.domain.NoidException;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The registry reference parser and the expected-digest rules every source shares. */
class ImportSourceTest {
  private static final String DIGEST = "sha256:" + "a1".repeat(32);

  @Test
  void aTagAndAPortAreParsed() {
    assertThat(ImportSource.Registry.parse("oci://127.0.0.1:5000/library/busybox:1.36", true))
        .isEqualTo(new ImportSource.Registry("127.0.0.1:5000", "library/busybox", "1.36", true));
  }

  @Test
  void noTagMeansLatest() {
    assertThat(ImportSource.Registry.parse("oci://registry.example.com/app", false).reference())
        .isEqualTo("latest");
  }

  @Test
  void aDigestIsKeptAsTheReference() {
    ImportSource.Registry r = ImportSource.Registry.parse("oci://[::1]:5000/app@" + DIGEST, true);

    assertThat(r.host()).isEqualTo("[::1]:5000");
    assertThat(r.reference()).isEqualTo(DIGEST);
    assertThat(r.imageName()).isEqualTo("[::1]:5000/app@" + DIGEST);
  }

  /**
   * plain_http turns TLS verification off, which for a registry off the host also takes any
   * certificate: a man in the middle answers the tag. Before the fix it was taken for any host.
   */
  @Test
  void plainHttpToARegistryOffTheHostIsRefusedUnlessTheImageIsPinned() {
    assertThatThrownBy(() -> ImportSource.Registry.parse("oci://registry.example:5000/app:1",
        true))
        .isInstanceOf(NoidException.class)
        .hasMessageContaining("plain_http")
        .hasMessageContaining("registry.example:5000")
        .extracting(e -> ((NoidException) e).code()).isEqualTo(NoidException.Code.INVALID_ARGUMENT);
    assertThatThrownBy(() -> new ImportSource.Registry("10.0.0.1:5000", "app", "1", true))
        .hasMessageContaining("plain_http");

    assertThat(new ImportSource.Registry("registry.example:5000", "app", "1", true,
        Optional.of(DIGEST)).plainHttp()).isTrue();
    assertThat(ImportSource.Registry.parse("oci://registry.example:5000/app@" + DIGEST, true)
        .plainHttp()).isTrue();
    assertThat(ImportSource.Registry.parse("oci://registry.example:5000/app:1", false)
        .plainHttp()).isFalse();
  }

  @ParameterizedTest
  @CsvSource({"127.0.0.1:5000", "127.1.2.3", "localhost:5000", "LOCALHOST", "[::1]:5000",
      "[0:0:0:0:0:0:0:1]"})
  void plainHttpToALoopbackRegistryNeedsNoDigest(String host) {
    assertThat(new ImportSource.Registry(host, "app", "1", true).plainHttp()).isTrue();
  }

  @ParameterizedTest
  @CsvSource({"2130706433:5000", "127.0.0.1.example", "localhost.example", "[::2]:5000",
      "128.0.0.1", "127.0.0.256", "[::ffff:10.0.0.1]"})
  void plainHttpToAnythingElseNeedsADigest(String host) {
    assertThatThrownBy(() -> new ImportSource.Registry(host, "app", "1", true))
        .hasMessageContaining("plain_http");
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "docker://host/app:1 | must start with oci://",
      "oci://host | expected oci://HOST[:PORT]/REPOSITORY",
      "oci:///app | expected oci://HOST[:PORT]/REPOSITORY",
      "oci://host:99999/app | the port 99999 is not between 1 and 65535",
      "oci://ho_st/app | the registry host 'ho_st' is not a host name",
      "oci://host/App:1 | the repository 'App' is not a valid repository name",
      "oci://host/app:-x | the tag '-x' is not a valid tag",
      "oci://host/app@sha256:abc | the digest 'sha256:abc' is not sha256:",
      "oci://host/app@md5:" + "0" + " | is not sha256:"})
  void aMalformedReferenceIsRefusedSayingWhy(String uri, String reason) {
    assertThatThrownBy(() -> ImportSource.Registry.parse(uri, false))
        .isInstanceOf(NoidException.class)
        .hasMessageStartingWith("image source '" + uri + "' is not a registry reference: ")
        .hasMessageContaining(reason)
        .extracting(e -> ((NoidException) e).code()).isEqualTo(NoidException.Code.INVALID_ARGUMENT);
  }

  @Test
  void anExpectedDigestMustBeSha256Hex() {
    assertThatThrownBy(() -> new ImportSource.Ext4File(Path.of("x"),
        Optional.of("sha256:xyz")))
        .isInstanceOf(NoidException.class).hasMessageContaining("not 64 hex digits");
    assertThat(new ImportSource.Ext4File(Path.of("x"),
        Optional.of("SHA256:" + "AB".repeat(32))).expectedSha256())
        .contains("ab".repeat(32));
  }
}
