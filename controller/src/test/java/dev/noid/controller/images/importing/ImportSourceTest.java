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
