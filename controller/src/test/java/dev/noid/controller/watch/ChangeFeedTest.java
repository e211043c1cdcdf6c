package dev.noid.controller.watch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.noid.controller.watch.ChangeFeed.Event;
import dev.noid.controller.watch.ChangeFeed.Type;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * When a reconnecting watcher can be replayed, when it must start over from a snapshot, and
 * how a live watcher reads on from the revision it last sent.
 */
class ChangeFeedTest {
  private final List<String> snapshot = List.of("a", "b");

  private static void publish(ChangeFeed<String> feed, long from, long to) {
    for (long r = from; r <= to; r++) {
      feed.publish(new Event<>(r, Type.MODIFIED, "item-" + r));
    }
  }

  @Test
  void replaysExactlyWhatAWatcherMissedThenItReadsLiveChangesFromThere() throws Exception {
    ChangeFeed<String> feed = new ChangeFeed<>(100, 0);
    publish(feed, 1, 5);
    ChangeFeed.Watch<String> w = feed.watch(3, () -> snapshot);
    assertThat(w.snapshot()).isNull();
    assertThat(w.replay()).extracting(Event::revision).containsExactly(4L, 5L);
    assertThat(w.revision()).isEqualTo(5);
    publish(feed, 6, 7);
    assertThat(feed.next(w.revision(), 10, 0)).extracting(Event::revision).containsExactly(6L, 7L);
    assertThat(feed.next(6, 10, 0)).extracting(Event::revision).containsExactly(7L);
    assertThat(feed.next(7, 10, 0)).isEmpty();
  }

  @Test
  void aWatcherWhoseChangesFellOutOfTheHistoryGetsASnapshot() {
    ChangeFeed<String> feed = new ChangeFeed<>(3, 0);
    publish(feed, 1, 10);
    assertThat(feed.watch(6, () -> snapshot).snapshot()).isEqualTo(snapshot);
    assertThat(feed.watch(7, () -> snapshot).replay()).extracting(Event::revision)
        .containsExactly(8L, 9L, 10L);
  }

  @Test
  void afterARestartOlderRevisionsAndUnknownOnesGetASnapshot() {
    // A controller that restarted at revision 40: what happened before is not in its history.
    ChangeFeed<String> feed = new ChangeFeed<>(100, 40);
    publish(feed, 41, 42);
    assertThat(feed.watch(39, () -> snapshot).snapshot()).isEqualTo(snapshot);
    assertThat(feed.watch(40, () -> snapshot).replay()).extracting(Event::revision)
        .containsExactly(41L, 42L);
    // A revision this feed never issued (from a store that was rolled back, say).
    assertThat(feed.watch(43, () -> snapshot).snapshot()).isEqualTo(snapshot);
    assertThat(feed.watch(0, () -> snapshot).snapshot()).isEqualTo(snapshot);
  }

  @Test
  void aLiveWatcherThatFellBehindTheHistoryIsToldSo() {
    ChangeFeed<String> feed = new ChangeFeed<>(3, 0);
    long from = feed.watch(0, () -> snapshot).revision();
    publish(feed, 1, 10);
    assertThat(feed.behind(from)).isTrue();
    assertThatThrownBy(() -> feed.next(from, 10, 0)).isInstanceOf(ChangeFeed.FellBehind.class);
    assertThat(feed.behind(7)).isFalse();
  }

  @Test
  void aWaitingWatcherWakesOnTheNextChange() throws Exception {
    ChangeFeed<String> feed = new ChangeFeed<>(10, 0);
    CompletableFuture<List<Event<String>>> next = CompletableFuture.supplyAsync(() -> {
      try {
        return feed.next(0, 10, 60_000);
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    publish(feed, 1, 1);
    assertThat(next.get(30, TimeUnit.SECONDS)).extracting(Event::revision).containsExactly(1L);
  }

  @Test
  void theHistoryStaysBoundedAndOrderedAcrossItsCompaction() throws Exception {
    ChangeFeed<String> feed = new ChangeFeed<>(5, 0);
    publish(feed, 1, 23);
    assertThat(feed.next(18, 100, 0)).extracting(Event::revision).containsExactly(19L, 20L, 21L, 22L, 23L);
    assertThat(feed.next(20, 2, 0)).extracting(Event::revision).containsExactly(21L, 22L);
    assertThat(feed.behind(17)).isTrue();
  }

  private static List<Event<String>> history(long from, long to) {
    List<Event<String>> out = new java.util.ArrayList<>();
    for (long r = from; r <= to; r++) {
      out.add(new Event<>(r, Type.MODIFIED, "item-" + r));
    }
    return out;
  }

  @Test
  void aFeedStartedFromAnEarlierOwnersLoggedChangesReplaysThemAcrossTheRevisionJump()
      throws Exception {
    // A new leader (issue 22): the old one logged 5..7, complete after 4; the new one issues
    // revisions from 1 << 40.
    long floor = 1L << 40;
    ChangeFeed<String> feed = new ChangeFeed<>(100, floor, history(5, 7), 4);

    ChangeFeed.Watch<String> w = feed.watch(5, () -> snapshot);
    assertThat(w.snapshot()).isNull();
    assertThat(w.replay()).extracting(Event::revision).containsExactly(6L, 7L);
    assertThat(w.revision()).isEqualTo(floor);
    assertThat(feed.watch(4, () -> snapshot).replay()).extracting(Event::revision)
        .containsExactly(5L, 6L, 7L);
    assertThat(feed.watch(3, () -> snapshot).snapshot()).as("older than the log").isEqualTo(snapshot);

    feed.publish(new Event<>(floor + 1, Type.ADDED, "new"));
    assertThat(feed.watch(7, () -> snapshot).replay()).extracting(Event::revision)
        .containsExactly(floor + 1);
    assertThat(feed.next(w.revision(), 10, 0)).extracting(Event::item).containsExactly("new");
  }

  @Test
  void aLoggedHistoryLongerThanTheFeedKeepsItsLatestAndNoMore() {
    ChangeFeed<String> feed = new ChangeFeed<>(3, 100, history(1, 10), 0);

    assertThat(feed.watch(7, () -> snapshot).replay()).extracting(Event::revision)
        .containsExactly(8L, 9L, 10L);
    assertThat(feed.watch(6, () -> snapshot).snapshot()).isEqualTo(snapshot);
  }
}
