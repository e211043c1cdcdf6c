package dev.noid.agent.transfer;

import dev.noid.api.agent.v1.ImagePeer;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Other nodes the controller named, with a create, as holding a fleet image this node lacks
 * (issue 24), until the image's pull takes the offer. An offer is good for one pull, as its
 * grant is, and is dropped once the grant could no longer be accepted.
 */
public final class ImageOffers {
  // The controller's grants live 2 minutes; the source allows 30 s more for clock skew.
  private static final Duration GOOD_FOR = Duration.ofMinutes(2);

  private record Offer(ImagePeer peer, long at) {}

  private final Clock clock;
  private final Map<String, Offer> offers = new ConcurrentHashMap<>();

  public ImageOffers(Clock clock) {
    this.clock = clock;
  }

  /** Remembers {@code peer} for image {@code digest} (sha256:HEX); the latest offer wins. */
  public void offer(String digest, ImagePeer peer) {
    long now = clock.millis();
    offers.values().removeIf(o -> now - o.at() > GOOD_FOR.toMillis());
    offers.put(digest, new Offer(peer, now));
  }

  /** The offer for {@code digest}, taken: the next pull of it goes to the controller. */
  public Optional<ImagePeer> take(String digest) {
    Offer o = offers.remove(digest);
    return o == null || clock.millis() - o.at() > GOOD_FOR.toMillis() ? Optional.empty()
        : Optional.of(o.peer());
  }
}
