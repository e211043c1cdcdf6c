package dev.noid.agent.tls;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.client.HostPort;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Configured controllers, those the cluster listed at join, and the channel over them. */
class KnownControllersTest {
  @TempDir Path tls;

  @Test
  void beforeAJoinOnlyTheConfiguredAddressesCount() {
    assertThat(new KnownControllers("c1:7655", tls).addresses()).containsExactly(new HostPort("c1", 7655));
    assertThat(new KnownControllers("c1, c2:9000", tls).addresses())
        .containsExactly(new HostPort("c1", 7655), new HostPort("c2", 9000));
  }

  @Test
  void theListLearnedAtJoinIsSavedNextToTheCertificateAndMergedAfterTheConfiguredOnes() throws Exception {
    new KnownControllers("c2:7655", tls).learn(List.of("c1:7655", "c2:7655", "c3:7655"));

    assertThat(Files.readAllLines(tls.resolve(KnownControllers.FILE)).toString())
        .isEqualTo("[c1:7655, c2:7655, c3:7655]");
    // a restart reads it back: the configured address stays first, as it names the TLS authority
    assertThat(new KnownControllers("c2", tls).addresses()).containsExactly(
        new HostPort("c2", 7655), new HostPort("c1", 7655), new HostPort("c3", 7655));
    assertThat(new KnownControllers("c2", tls).describe()).isEqualTo("c2:7655,c1:7655,c3:7655");
  }

  @Test
  void anEmptyListFromAnOlderControllerKeepsNothingAndUnusableAddressesAreDropped() throws Exception {
    KnownControllers k = new KnownControllers("c1:7655", tls);
    k.learn(List.of());
    assertThat(tls.resolve(KnownControllers.FILE)).doesNotExist();

    k.learn(List.of("c1:7655", "c4:not-a-port"));
    assertThat(k.addresses()).containsExactly(new HostPort("c1", 7655));
  }

  @Test
  void oneControllerKeepsThePlainChannelToTheConfiguredAddress() {
    KnownControllers one = new KnownControllers("c1:7655", tls);
    assertThat(one.describe()).isEqualTo("c1:7655");
    ManagedChannel plain = one.channelBuilder(InsecureChannelCredentials.create()).build();
    try {
      assertThat(plain.authority()).isEqualTo("c1:7655");
    } finally {
      plain.shutdownNow();
    }

    new KnownControllers("c1:7655", tls).learn(List.of("c1:7655", "c2:7655"));
    ManagedChannel several = one.channelBuilder(InsecureChannelCredentials.create()).build();
    try {
      // the leader-following channel still checks certificates against the first address
      assertThat(several.authority()).isEqualTo("c1:7655");
    } finally {
      several.shutdownNow();
    }
  }
}
