package dev.noid.controller.images.importing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.noid.controller.domain.NoidException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The few facts the importer reads from an OCI image layout itself: which manifest a ref names
 * (its digest is the image's identity in the origin) and the config's platform. Blob contents
 * are verified by skopeo and umoci, not here.
 */
final class OciLayoutReader {
  static final String REF_NAME = "org.opencontainers.image.ref.name";
  private static final ObjectMapper JSON = new ObjectMapper();

  private OciLayoutReader() {}

  /**
   * The index.json entry a ref names, its blob checked against it; an empty ref needs the
   * layout to hold exactly one.
   */
  static String manifestDigest(String subject, Path layout, String ref) {
    JsonNode manifests = read(subject, layout.resolve("index.json")).path("manifests");
    List<JsonNode> matching = new ArrayList<>();
    for (JsonNode m : manifests) {
      if (ref.isEmpty() || ref.equals(m.path("annotations").path(REF_NAME).asText())) {
        matching.add(m);
      }
    }
    if (matching.isEmpty()) {
      throw NoidException.invalid(subject + ": no manifest"
          + (ref.isEmpty() ? "" : " tagged '" + ref + "'") + " in its index.json");
    }
    if (matching.size() > 1) {
      throw NoidException.invalid(subject + ": " + matching.size() + " manifests"
          + (ref.isEmpty() ? "; name one with a ref" : " tagged '" + ref + "'"));
    }
    String digest = matching.getFirst().path("digest").asText();
    // index.json only names the manifest: a pinned digest means nothing unless the blob read
    // as the manifest (here and by skopeo) is the one that hashes to it.
    String found = "sha256:" + Sha256.ofFile(blobPath(subject, layout, digest));
    if (!found.equals(digest)) {
      throw NoidException.invalid(subject + ": digest mismatch: index.json names the manifest "
          + digest + ", its blob hashes to " + found);
    }
    return digest;
  }

  /** "os/architecture[/variant]" of the single image manifest a ref names. */
  static Platform platform(String subject, Path layout, String ref) {
    JsonNode manifest = blob(subject, layout, manifestDigest(subject, layout, ref));
    JsonNode config = blob(subject, layout, manifest.path("config").path("digest").asText());
    return new Platform(config.path("os").asText(""), config.path("architecture").asText(""),
        config.path("variant").asText(""));
  }

  /** The layer blobs of the single image manifest a ref names, bottom first. */
  static List<Path> layerBlobs(String subject, Path layout, String ref) {
    JsonNode manifest = blob(subject, layout, manifestDigest(subject, layout, ref));
    List<Path> blobs = new ArrayList<>();
    for (JsonNode layer : manifest.path("layers")) {
      blobs.add(blobPath(subject, layout, layer.path("digest").asText()));
    }
    return blobs;
  }

  record Platform(String os, String architecture, String variant) {
    @Override
    public String toString() {
      return os + "/" + architecture + (variant.isEmpty() ? "" : "/" + variant);
    }
  }

  private static JsonNode blob(String subject, Path layout, String digest) {
    return read(subject, blobPath(subject, layout, digest));
  }

  private static Path blobPath(String subject, Path layout, String digest) {
    if (!digest.matches("sha256:[0-9a-f]{64}")) {
      throw NoidException.invalid(subject + ": unsupported blob digest '" + digest + "'");
    }
    return layout.resolve("blobs").resolve("sha256").resolve(digest.substring(7));
  }

  private static JsonNode read(String subject, Path file) {
    try {
      return JSON.readTree(file.toFile());
    } catch (IOException e) {
      throw NoidException.invalid(subject + ": cannot read " + file.getFileName() + ": "
          + e.getMessage());
    }
  }
}
