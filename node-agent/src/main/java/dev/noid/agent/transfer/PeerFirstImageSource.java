package dev.noid.agent.transfer;

import dev.noid.agent.image.ImageChunkCopy;
import dev.noid.agent.image.ImageSource;
import dev.noid.agent.vm.AgentException;
import dev.noid.agent.vm.AgentException.Code;
import dev.noid.api.agent.v1.AgentPeerGrpc;
import dev.noid.api.agent.v1.ImageChunk;
import dev.noid.api.agent.v1.ImagePeer;
import dev.noid.api.agent.v1.SendImageRequest;
import io.grpc.Context;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Iterator;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Takes a fleet image's ext4 file from another node when the controller offered one with the
 * create (issue 24), else from the controller. A peer that fails before the first byte is
 * passed over for the controller at once; one cut part way ends this pull as INTERRUPTED, and
 * the cache's next try goes to the controller ({@link #fetchFromOrigin}). The kernel and modules
 * files, a few MB whose sha256 only the controller's import recorded, come from the controller.
 * The cache checks the ext4 file against its digest whichever node sent it; as that check comes
 * at the end, a peer is held to the size the controller put in its offer, and an offer without
 * one (from a controller older than that field) is passed over.
 */
public final class PeerFirstImageSource implements ImageSource {
  private static final Logger log = LoggerFactory.getLogger(PeerFirstImageSource.class);
  private static final long DEADLINE_MINUTES = 30;
  private final ImageOffers offers;
  private final PeerChannels channels;
  private final ImageSource controller;

  public PeerFirstImageSource(ImageOffers offers, PeerChannels channels, ImageSource controller) {
    this.offers = offers;
    this.channels = channels;
    this.controller = controller;
  }

  @Override
  public void fetch(String digest, OutputStream out, Progress progress) {
    Optional<ImagePeer> peer = offers.take(digest);
    if (peer.isPresent() && peer.get().getImageBytes() == 0) {
      log.warn("image {}: the offer of node {} has no size to hold it to; taking it from the "
          + "controller", digest, peer.get().getNode());
    }
    if (peer.isEmpty() || peer.get().getImageBytes() == 0) {
      controller.fetch(digest, out, progress);
      return;
    }
    ImagePeer p = peer.get();
    long started = System.nanoTime();
    ImageChunkCopy copy = new ImageChunkCopy(out, progress);
    Context.CancellableContext call = Context.current().withCancellation();
    try {
      Iterator<ImageChunk> chunks = call.call(() -> AgentPeerGrpc.newBlockingStub(
              channels.to(p.getNode(), p.getAddress()))
          .withDeadlineAfter(DEADLINE_MINUTES, TimeUnit.MINUTES)
          .sendImage(SendImageRequest.newBuilder().setGrant(p.getGrant()).build()));
      copy.drain(chunks, p.getImageBytes());
      log.info("image {} taken from node {}: {} bytes in {} ms", digest, p.getNode(),
          copy.written(),
          (System.nanoTime() - started) / 1_000_000);
    } catch (StatusRuntimeException e) {
      String why = e.getStatus().getCode() + (e.getStatus().getDescription() == null ? ""
          : ": " + e.getStatus().getDescription());
      if (copy.written() == 0) {
        log.warn("image {}: node {} did not send it ({}); taking it from the controller",
            digest, p.getNode(), why);
        controller.fetch(digest, out, progress);
        return;
      }
      throw new AgentException(Code.INTERRUPTED, "image " + digest + " from node "
          + p.getNode() + " was cut after " + copy.written() + " bytes (" + why + ")", e);
    } catch (ImageChunkCopy.TooLong e) {
      // Cut like a broken link, so that the cache starts over from the controller.
      throw new AgentException(Code.INTERRUPTED, "image " + digest + " from node " + p.getNode()
          + ": stopped after " + copy.written() + " bytes, as it sent " + e.getMessage(), e);
    } catch (IOException e) {
      Code code = String.valueOf(e.getMessage()).contains("No space left") ? Code.DISK_FULL
          : Code.INTERNAL;
      throw new AgentException(code, "cannot write image " + digest + " after "
          + copy.written() + " bytes: " + e.getMessage(), e);
    } catch (Exception e) {
      throw e instanceof RuntimeException re ? re : new AgentException(Code.INTERNAL,
          "pulling image " + digest + " from node " + p.getNode() + ": " + e, e);
    } finally {
      call.cancel(null); // ends the stream if it is still open
    }
  }

  @Override
  public void fetchFromOrigin(String digest, OutputStream out, Progress progress) {
    controller.fetch(digest, out, progress);
  }

  @Override
  public Optional<String> fetchPart(String digest, Part part, OutputStream out) {
    return controller.fetchPart(digest, part, out);
  }
}
