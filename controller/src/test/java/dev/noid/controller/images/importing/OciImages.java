package dev.noid.controller.images.importing;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;

/**
 * OCI image layouts built by hand for the import tests: gzip'd layer blobs, a config with the
 * layers' diff_ids, a manifest, index.json and oci-layout, as the image spec describes them.
 */
public final class OciImages {
  static final Path HOST_BUSYBOX = Path.of("/bin/busybox");
  private static final ObjectMapper JSON = new ObjectMapper();

  private OciImages() {}

  /** busybox as /bin/busybox with /bin/sh linked to it, and files the next layer changes. */
  static LayerTar baseLayer() {
    return new LayerTar()
        .dir("bin").file("bin/busybox", busybox(), 0755).symlink("bin/sh", "busybox")
        .dir("etc").file("etc/hostname", "fixture\n").file("etc/removed", "gone soon\n")
        .dir("data").dir("data/old").file("data/old/a", "a").file("data/old/b", "b")
        .dir("home").file("home/owned", "x".getBytes(), 0600, 1000);
  }

  /** Deletes etc/removed (a whiteout) and everything the base had in data/old (opaque). */
  static LayerTar changeLayer() {
    return new LayerTar()
        .whiteout("etc", "removed").file("etc/added", "new\n")
        .opaque("data/old").file("data/old/c", "c");
  }

  static byte[] busybox() {
    try {
      return Files.readAllBytes(HOST_BUSYBOX);
    } catch (IOException e) {
      throw new UncheckedIOException("the tests need busybox-static's " + HOST_BUSYBOX, e);
    }
  }

  /** The usual two-layer busybox image in a new layout at {@code dir}, tagged {@code tag}. */
  public static Path busyboxLayout(Path dir, String tag) {
    return layout(dir, tag, "amd64", List.of(baseLayer(), changeLayer()));
  }

  static Path layout(Path dir, String tag, String architecture, List<LayerTar> layers) {
    try {
      return tagged(dir, tag, image(dir, architecture, layers));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A layout whose tag names an image index over one image per architecture given. */
  static Path multiPlatformLayout(Path dir, String tag, Map<String, List<LayerTar>> images) {
    try {
      ObjectNode index = JSON.createObjectNode().put("schemaVersion", 2)
          .put("mediaType", "application/vnd.oci.image.index.v1+json");
      ArrayNode manifests = index.putArray("manifests");
      for (Map.Entry<String, List<LayerTar>> image : images.entrySet()) {
        ObjectNode descriptor = image(dir, image.getKey(), image.getValue());
        descriptor.putObject("platform").put("architecture", image.getKey()).put("os", "linux");
        manifests.add(descriptor);
      }
      return tagged(dir, tag, writeBlob(dir, "application/vnd.oci.image.index.v1+json",
          JSON.writeValueAsBytes(index)));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Writes an image's blobs and returns its manifest's descriptor. */
  private static ObjectNode image(Path dir, String architecture, List<LayerTar> layers)
      throws IOException {
    Files.createDirectories(dir.resolve("blobs/sha256"));
    ArrayNode layerDescriptors = JSON.createArrayNode();
    ArrayNode diffIds = JSON.createArrayNode();
    for (LayerTar layer : layers) {
      byte[] tar = layer.bytes();
      diffIds.add("sha256:" + sha256(tar));
      layerDescriptors.add(writeBlob(dir, "application/vnd.oci.image.layer.v1.tar+gzip",
          gzip(tar)));
    }
    ObjectNode config = JSON.createObjectNode().put("architecture", architecture)
        .put("os", "linux");
    config.putObject("config").putArray("Cmd").add("/bin/sh");
    ObjectNode rootfs = config.putObject("rootfs").put("type", "layers");
    rootfs.set("diff_ids", diffIds);
    ObjectNode manifest = JSON.createObjectNode().put("schemaVersion", 2)
        .put("mediaType", "application/vnd.oci.image.manifest.v1+json");
    manifest.set("config", writeBlob(dir, "application/vnd.oci.image.config.v1+json",
        JSON.writeValueAsBytes(config)));
    manifest.set("layers", layerDescriptors);
    return writeBlob(dir, "application/vnd.oci.image.manifest.v1+json",
        JSON.writeValueAsBytes(manifest));
  }

  /** index.json naming one descriptor under a tag, and the oci-layout marker. */
  private static Path tagged(Path dir, String tag, ObjectNode descriptor) throws IOException {
    Files.writeString(dir.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
    descriptor.putObject("annotations").put(OciLayoutReader.REF_NAME, tag);
    ObjectNode index = JSON.createObjectNode().put("schemaVersion", 2);
    index.putArray("manifests").add(descriptor);
    Files.write(dir.resolve("index.json"), JSON.writeValueAsBytes(index));
    return dir;
  }

  /** The digest of the manifest a layout's index names first. */
  static String manifestDigest(Path layout) throws IOException {
    return JSON.readTree(layout.resolve("index.json").toFile()).path("manifests").get(0)
        .path("digest").asText();
  }

  /** The blob file of the layout's last layer. */
  static Path lastLayerBlob(Path layout) throws IOException {
    String manifestHex = manifestDigest(layout).substring("sha256:".length());
    var layers = JSON.readTree(layout.resolve("blobs/sha256/" + manifestHex).toFile())
        .path("layers");
    String hex = layers.get(layers.size() - 1).path("digest").asText().substring(7);
    return layout.resolve("blobs/sha256/" + hex);
  }

  static byte[] gzip(byte[] bytes) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
      gz.write(bytes);
    }
    return out.toByteArray();
  }

  private static ObjectNode writeBlob(Path layout, String mediaType, byte[] content)
      throws IOException {
    String hex = sha256(content);
    Files.write(layout.resolve("blobs/sha256/" + hex), content);
    return JSON.createObjectNode().put("mediaType", mediaType).put("digest", "sha256:" + hex)
        .put("size", content.length);
  }

  static String sha256(byte[] content) {
    return Sha256.ofBytes(content);
  }
}
