package dev.noid.controller.watch;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.controller.watch.ChangeFeed.Event;
import dev.noid.controller.watch.ChangeFeed.Type;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** When a reconnecting watcher can be replayed, and when it must start over from a snapshot. */
class ChangeFeedTest {
  private final List<String> snapshot = List.of("a", "b");

  private static void publish(ChangeFeed<String> feed, long from, long to) {
    for (long r = from; r <= to; r++) {
      feed.publish(new Event<>(r, Type.MODIFIED, "item-" + r));
    }
  }

  @Test
  void replaysExactlyWhatAWatcherMissedThenDeliversLiveChanges() {
    ChangeFeed<String> feed = new ChangeFeed<>(100, 0);
    publish(feed, 1, 5);
    List<Event<String>> live = new ArrayList<>();
    ChangeFeed.Watch<String> w = feed.watch(3, () -> snapshot, live::add);
    assertThat(w.snapshot()).isNull();
    assertThat(w.replay()).extracting(Event::revision).containsExactly(4L, 5L);
    assertThat(w.revision()).isEqualTo(5);
    publish(feed, 6, 6);
    assertThat(live).extracting(Event::revision).containsExactly(6L);
  }

  @Test
  void aWatcherWhoseChangesFellOutOfTheHistoryGetsASnapshot() {
    ChangeFeed<String> feed = new ChangeFeed<>(3, 0);
    publish(feed, 1, 10);
    assertThat(feed.watch(6, () -> snapshot, e -> { }).snapshot()).isEqualTo(snapshot);
    assertThat(feed.watch(7, () -> snapshot, e -> { }).replay()).extracting(Event::revision)
        .containsExactly(8L, 9L, 10L);
  }

  @Test
  void afterARestartOlderRevisionsAndUnknownOnesGetASnapshot() {
    // A controller that restarted at revision 40: what happened before is not in its history.
    ChangeFeed<String> feed = new ChangeFeed<>(100, 40);
    publish(feed, 41, 42);
    assertThat(feed.watch(39, () -> snapshot, e -> { }).snapshot()).isEqualTo(snapshot);
    assertThat(feed.watch(40, () -> snapshot, e -> { }).replay()).extracting(Event::revision)
        .containsExactly(41L, 42L);
    // A revision this feed never issued (from a store that was rolled back, say).
    assertThat(feed.watch(43, () -> snapshot, e -> { }).snapshot()).isEqualTo(snapshot);
    assertThat(feed.watch(0, () -> snapshot, e -> { }).snapshot()).isEqualTo(snapshot);
  }

  @Test
  void anUnsubscribedWatcherHearsNothingMore() {
    ChangeFeed<String> feed = new ChangeFeed<>(10, 0);
    List<Event<String>> live = new ArrayList<>();
    java.util.function.Consumer<Event<String>> sub = live::add;
    feed.watch(0, () -> snapshot, sub);
    publish(feed, 1, 1);
    feed.unsubscribe(sub);
    publish(feed, 2, 2);
    assertThat(live).extracting(Event::revision).containsExactly(1L);
  }
}
