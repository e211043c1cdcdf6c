package dev.noid.cli;

import dev.noid.api.v1.GetImageRequest;
import dev.noid.api.v1.Image;
import dev.noid.api.v1.ImagePull;
import dev.noid.client.NoidClient;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * While a create waits, the pull of its image to its node, in the spinner's message: a node
 * that lacks a fleet image pulls it first, which can take minutes that would otherwise look
 * like a hang. The controller learns of pulls from heartbeats, so about every 2 s is as fresh
 * as it gets; twice a second is enough. Only on a terminal, like the spinner.
 */
final class PullProgress implements AutoCloseable {
  private static final long POLL_MS = 500;

  private final ScheduledExecutorService polls = Executors.newSingleThreadScheduledExecutor(
      Thread.ofPlatform().daemon().factory());
  private final NoidClient client;
  private final String imageName;
  private final String vm;
  private final String base;
  private final Consumer<String> show;
  private volatile String node;

  private PullProgress(NoidClient client, String imageName, String vm, String node, String base,
      Consumer<String> show) {
    this.client = client;
    this.imageName = imageName;
    this.vm = vm;
    this.node = node;
    this.base = base;
    this.show = show;
    if (imageName != null) {
      polls.scheduleWithFixedDelay(this::poll, POLL_MS, POLL_MS, TimeUnit.MILLISECONDS);
    }
  }

  /**
   * Watches the pulls of {@code image} (as given to --image) while a create runs. {@code vm}
   * finds the node once the VM is placed, unless {@code node} already names it; with neither,
   * any node's pull is shown. Does nothing off a terminal or without an image.
   */
  static PullProgress start(NoidClient client, String image, String vm, String node,
      String base, Consumer<String> show) {
    String name = image == null || !Session.current().stderrTty() ? null
        : image.contains("@") ? image.substring(0, image.indexOf('@')) : image;
    return new PullProgress(client, name, vm, node, base, show);
  }

  private void poll() {
    try {
      if (node == null && vm != null) {
        String placed = client.getVm(vm).getNode();
        node = placed.isEmpty() ? null : placed;
      }
    } catch (RuntimeException e) {
      // not placed yet
    }
    try {
      Image image = client.images().withDeadlineAfter(2, TimeUnit.SECONDS)
          .getImage(GetImageRequest.newBuilder().setName(imageName).build()).getImage();
      show.accept(message(base, image.getName(), image.getPullsList(), node));
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == Status.Code.NOT_FOUND) {
        polls.shutdown(); // a node-local image: nodes never pull it
      }
    } catch (RuntimeException e) {
      // a missed poll only delays the next figure
    }
  }

  /**
   * {@code base}, followed by the pull of {@code image} to {@code node} when there is one
   * (to any node when {@code node} is null), e.g. "creating deb: pulling image debian-12 to
   * node-b, 120M of 310M".
   */
  static String message(String base, String image, List<ImagePull> pulls, String node) {
    for (ImagePull p : pulls) {
      if (node == null || node.equals(p.getNode())) {
        return base + ": pulling image " + image + " to " + p.getNode() + ", "
            + Views.human(p.getDoneBytes())
            + (p.getTotalBytes() > 0 ? " of " + Views.human(p.getTotalBytes()) : "");
      }
    }
    return base;
  }

  @Override
  public void close() {
    polls.shutdownNow();
  }
}
