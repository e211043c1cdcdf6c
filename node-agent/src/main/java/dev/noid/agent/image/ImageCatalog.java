package dev.noid.agent.image;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Images by name, read from an images directory: each subdirectory holding an
 * {@code image.json} ({@code kernel}, {@code initramfs}, {@code disk}, {@code cmdline},
 * {@code min_mem_mib}, paths relative to it) is one image named after the directory. When the
 * command line boots from the disk ({@code noid.root=/dev/vda}), the disk is a root filesystem
 * and VMs get qcow2 overlays on it.
 */
public final class ImageCatalog {
  private static final Logger log = LoggerFactory.getLogger(ImageCatalog.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private final Map<String, Image> images;

  public ImageCatalog(Map<String, Image> images) {
    this.images = new TreeMap<>(images);
  }

  public static ImageCatalog scan(List<Path> dirs) {
    Map<String, Image> found = new TreeMap<>();
    for (Path dir : dirs) {
      if (!Files.isDirectory(dir)) {
        continue;
      }
      try (Stream<Path> children = Files.list(dir)) {
        for (Path child : children.sorted().toList()) {
          Path manifest = child.resolve("image.json");
          if (Files.isRegularFile(manifest)) {
            Image image = read(child.getFileName().toString(), child, manifest);
            found.putIfAbsent(image.name(), image);
          }
        }
      } catch (IOException e) {
        log.warn("cannot scan images in {}: {}", dir, e.toString());
      }
    }
    return new ImageCatalog(found);
  }

  static Image read(String name, Path dir, Path manifest) throws IOException {
    JsonNode m = JSON.readTree(manifest.toFile());
    Path kernel = dir.resolve(m.path("kernel").asText("vmlinuz"));
    String initramfs = m.path("initramfs").asText("");
    String disk = m.path("disk").asText("");
    String cmdline = m.path("cmdline").asText("console=ttyS0");
    // An image that boots from its disk (a root filesystem) shares it as the base of each VM's
    // overlay, as fleet images do; a data disk template is copied.
    return new Image(name, kernel,
        initramfs.isEmpty() ? null : dir.resolve(initramfs),
        disk.isEmpty() ? null : dir.resolve(disk),
        cmdline, m.path("min_mem_mib").asInt(64),
        !disk.isEmpty() && cmdline.contains(NodeImages.ROOT_ARG.strip()));
  }

  public Image get(String name) {
    Image image = images.get(name);
    if (image == null) {
      throw new AgentException(Code.NOT_FOUND, "image '" + name + "' not found on this node"
          + " (available: " + String.join(", ", images.keySet()) + ")");
    }
    return image;
  }

  public List<String> names() {
    return List.copyOf(images.keySet());
  }
}
