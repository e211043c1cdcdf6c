package dev.noid.controller.images.importing;

/**
 * The kernel an image's VMs boot: its own (from its /boot, with the modules the guest init
 * loads) or the node's default.
 *
 * @param description what people see: "VER (the image's own)", or "node default" with the
 *     reason when the image has a kernel that cannot be used
 * @param kernelSha256 "sha256:HEX" of the image's vmlinuz, "" for the node default
 * @param modulesSha256 "sha256:HEX" of its modules cpio, "" for the node default
 */
public record ImageKernel(String description, String kernelSha256, String modulesSha256) {
  public static final ImageKernel NODE_DEFAULT = new ImageKernel("node default", "", "");

  public static ImageKernel nodeDefault(String why) {
    return new ImageKernel("node default (" + why + ")", "", "");
  }

  static ImageKernel own(String version, String kernelSha256, String modulesSha256) {
    return new ImageKernel(version + " (the image's own)", kernelSha256, modulesSha256);
  }

  public boolean isOwn() {
    return !kernelSha256.isEmpty();
  }
}
