package dev.noid.agent.image;

import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;

/**
 * The images a VM can be made from on this node: node-local ones by name ({@link ImageCatalog})
 * and fleet images by {@code NAME@sha256:HEX} ({@link ImageCache}, pulled when missing). A
 * fleet image boots with the initramfs of the node's boot image, whose init mounts it as the
 * root and starts the guest agent in it, and with the node's kernel, or the image's own when
 * its /boot had one: then the image's modules are appended to that initramfs.
 */
public final class NodeImages {
  /** The node-local image whose kernel and initramfs boot fleet images. */
  public static final String BOOT_IMAGE = "dev";
  static final String ROOT_ARG = " noid.root=/dev/vda";

  private final ImageCatalog local;
  private final ImageCache cache;
  private final List<Supplier<Collection<String>>> users = new CopyOnWriteArrayList<>();

  public NodeImages(ImageCatalog local, ImageCache cache) {
    this.local = local;
    this.cache = cache;
  }

  /** Only node-local images: a node (or test) with no fleet image cache. */
  public static NodeImages local(ImageCatalog local) {
    return new NodeImages(local, null);
  }

  /** The image {@code ref} names, pulling a fleet image this node lacks. */
  public Image get(String ref) {
    return get(ref, ImageSource.Progress.NONE);
  }

  public Image get(String ref, ImageSource.Progress progress) {
    int at = ref.indexOf('@');
    if (at < 0) {
      return local.get(ref);
    }
    String digest = ref.substring(at + 1);
    if (!ImageCache.isDigest(digest)) {
      throw new AgentException(Code.INVALID_ARGUMENT, "image '" + ref
          + "': a fleet image is NAME@sha256:<64 hex>");
    }
    if (cache == null) {
      throw new AgentException(Code.NOT_FOUND, "fleet image '" + ref + "': this node keeps no"
          + " fleet images");
    }
    Image boot;
    try {
      boot = local.get(BOOT_IMAGE);
    } catch (AgentException e) {
      throw new AgentException(Code.NOT_FOUND, "fleet image '" + ref + "' boots with the kernel"
          + " and initramfs of image '" + BOOT_IMAGE + "', which this node lacks", e);
    }
    boolean pulled = !cache.has(digest);
    Path disk = cache.ensure(digest, progress);
    Optional<ImageCache.OwnKernel> own = boot.initramfs() == null ? Optional.empty()
        : cache.ownKernel(digest, boot.initramfs());
    Image image = new Image(ref, own.map(ImageCache.OwnKernel::kernel).orElse(boot.kernel()),
        own.map(ImageCache.OwnKernel::initramfs).orElse(boot.initramfs()), disk,
        boot.cmdline() + ROOT_ARG, boot.minMemMib(), true);
    if (pulled) {
      collect();
    }
    return image;
  }

  /**
   * Registers what on this node uses images (VMs, checkpoints): each supplies
   * the image references it holds, and the cache never drops those.
   */
  public void usedBy(Supplier<Collection<String>> refs) {
    users.add(refs);
  }

  /** Node-local image names and the digests of cached fleet images, for the node report. */
  public List<String> names() {
    List<String> out = new ArrayList<>(local.names());
    if (cache != null) {
      out.addAll(cache.digests());
    }
    return out;
  }

  /** The fleet images being pulled now and how far each got, for the node report. */
  public List<ImageCache.Pull> pulls() {
    return cache == null ? List.of() : cache.pulls();
  }

  /** Drops least recently used fleet images over the budget, except those in use. */
  public List<String> collect() {
    Set<String> inUse = new HashSet<>();
    for (Supplier<Collection<String>> u : users) {
      for (String ref : u.get()) {
        int at = ref.indexOf('@');
        if (at >= 0) {
          inUse.add(ref.substring(at + 1));
        }
      }
    }
    return cache == null ? List.of() : cache.collect(inUse);
  }

  public ImageCache cache() {
    return cache;
  }
}
