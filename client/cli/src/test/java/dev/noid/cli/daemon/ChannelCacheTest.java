package dev.noid.cli.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The daemon keeps one channel for a list of controllers, whoever leads among them. */
class ChannelCacheTest {
  @Test
  void aListOfControllersSharesOneChannelAcrossTokens() {
    ChannelCache cache = new ChannelCache();
    try {
      cache.client("c1:7655,c2:7655,c3:7655", "t1", null).close();
      cache.client("c1:7655,c2:7655,c3:7655", "t2", null).close();
      cache.client("c1:7655", "t1", null).close();
      assertThat(cache.size()).isEqualTo(2);
    } finally {
      cache.closeAll();
    }
  }
}
