package dev.noid.cli;

import dev.noid.api.v1.GetImageRequest;
import dev.noid.api.v1.Image;
import dev.noid.api.v1.ImportImageStart;
import dev.noid.api.v1.ListImagesRequest;
import dev.noid.api.v1.RemoveImageRequest;
import dev.noid.client.NoidClient;
import java.time.Instant;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** `noid images list|inspect|import|remove`: the fleet's images. */
final class ImageCommands {
  private ImageCommands() {}

  @Command(name = "images", mixinStandardHelpOptions = true,
      description = "Images VMs are made from (import and remove: admin).",
      subcommands = {ListImages.class, Inspect.class, Import.class, Remove.class})
  static final class Images {}

  @Calls("ImageService/ListImages")
  @Command(name = "list", aliases = "ls", mixinStandardHelpOptions = true,
      description = "List the fleet's images.")
  static final class ListImages extends ClientCommand {
    @Override
    int run(NoidClient client) {
      List<Image> images = AdminCommands.rpc(() -> client.images()
          .listImages(ListImagesRequest.getDefaultInstance())).getImagesList();
      if (json()) {
        Output.json(System.out, images.stream().map(ImageCommands::view).toList());
        return 0;
      }
      Output.table(System.out, List.of("NAME", "DIGEST", "SIZE", "NODES", "ORIGIN"),
          images.stream().map(i -> List.of(i.getName(), shortDigest(i.getDigest()),
              Views.human(i.getSizeBytes()), String.valueOf(i.getNodesCount()), i.getOrigin()))
              .toList());
      return 0;
    }
  }

  @Calls("ImageService/GetImage")
  @Command(name = "inspect", mixinStandardHelpOptions = true, description = "Show one image.")
  static final class Inspect extends ClientCommand {
    @Parameters(index = "0") String name;

    @Override
    int run(NoidClient client) {
      Image i = AdminCommands.rpc(() -> client.images()
          .getImage(GetImageRequest.newBuilder().setName(name).build())).getImage();
      if (json()) {
        Output.json(System.out, view(i));
        return 0;
      }
      Output.table(System.out, List.of("FIELD", "VALUE"), List.of(
          List.of("name", i.getName()), List.of("digest", i.getDigest()),
          List.of("size", Views.human(i.getSizeBytes()) + " (" + i.getSizeBytes() + " bytes)"),
          List.of("architecture", i.getArchitecture()), List.of("origin", i.getOrigin()),
          List.of("kernel", i.getKernel()), List.of("created", created(i)),
          List.of("nodes", String.join(", ", i.getNodesList())),
          List.of("pulling", String.join(", ", i.getPullsList().stream().map(p -> p.getNode()
              + " " + Views.human(p.getDoneBytes())
              + (p.getTotalBytes() > 0 ? "/" + Views.human(p.getTotalBytes()) : "")).toList()))));
      return 0;
    }
  }

  @Calls("ImageService/ImportImage")
  @Command(name = "import", mixinStandardHelpOptions = true,
      description = "Import an image (admin): an OCI layout directory, a `docker save` or OCI"
          + " archive, oci://HOST/REPO:TAG from a registry, a rootfs tarball or an ext4 file.")
  static final class Import extends ClientCommand {
    @Parameters(index = "0", description = "The image's name.") String name;
    @Parameters(index = "1", description = "The source: a path, or oci://HOST[:PORT]/REPO[:TAG|@sha256:HEX].")
    String source;
    @Option(names = "--kind", description = "archive, rootfs or ext4 (default: from the source).")
    String kind;
    @Option(names = "--sha256", description = "The source's expected sha256 (hex).") String sha256;
    @Option(names = "--plain-http", description = "Speak HTTP to the registry (a loopback registry).")
    boolean plainHttp;
    @Option(names = "--replace", description = "Point an existing name at the new image.")
    boolean replace;

    @Override
    int run(NoidClient client) {
      ImageSources.Source src = ImageSources.open(Session.current().resolve("."), source, kind);
      ImportImageStart start = ImportImageStart.newBuilder().setName(name).setKind(src.kind())
          .setReference(src.reference()).setSha256(sha256 == null ? "" : sha256)
          .setPlainHttp(plainHttp).setReplace(replace).build();
      Image image;
      try (src; ImportProgress progress = ImportProgress.start(src)) {
        image = AdminCommands.rpc(() -> client.importImage(start, src.data(), progress::sent));
      }
      if (json()) {
        Output.json(System.out, view(image));
      } else {
        System.out.println(image.getName() + " " + image.getDigest() + " "
            + Views.human(image.getSizeBytes()));
      }
      return 0;
    }
  }

  @Calls("ImageService/RemoveImage")
  @Command(name = "remove", aliases = "rm", mixinStandardHelpOptions = true,
      description = "Remove an image (admin); refused while VMs or checkpoints use it.")
  static final class Remove extends ClientCommand {
    @Parameters(index = "0") String name;

    @Override
    int run(NoidClient client) {
      AdminCommands.rpc(() -> client.images().removeImage(RemoveImageRequest.newBuilder()
          .setName(name).build()));
      if (json()) {
        Output.json(System.out, Output.map("image", name, "removed", true));
      } else {
        System.out.println(name + " removed");
      }
      return 0;
    }
  }

  static Object view(Image i) {
    return Output.map("name", i.getName(), "digest", i.getDigest(), "size_bytes", i.getSizeBytes(),
        "architecture", i.getArchitecture(), "origin", i.getOrigin(), "kernel", i.getKernel(),
        "created", created(i),
        "nodes", i.getNodesList(), "pulls", i.getPullsList().stream().map(p -> Output.map(
            "node", p.getNode(), "done_bytes", p.getDoneBytes(), "total_bytes", p.getTotalBytes()))
            .toList());
  }

  private static String created(Image i) {
    return Instant.ofEpochSecond(i.getCreateTime().getSeconds()).toString();
  }

  private static String shortDigest(String digest) {
    return digest.length() > 19 ? digest.substring(0, 19) : digest;
  }
}
