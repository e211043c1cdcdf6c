package dev.noid.agent.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.noid.agent.config.AgentConfig;
import dev.noid.agent.config.NetworkConfig;
import dev.noid.agent.golden.GoldenMode;
import dev.noid.common.config.StartupException;
import dev.noid.common.tls.Certificates;
import dev.noid.common.tls.ClusterIdentities;
import dev.noid.common.tls.KeyAndCertificate;
import dev.noid.common.tls.Pem;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A join writes the cluster's CA and this node's certificate, then its subnet, then the
 * {@code joined} marker. Cut short in between (a crash, a failed subnet write) and restarted
 * without a usable join token, the agent served as "standalone" with the cluster's CA, and a
 * standalone agent takes any certificate of its CA as a caller of its full API: every other
 * node's (Exec, Console, ExportCheckpoint on this node's VMs). It must not start that way.
 */
class NodeCredentialsTest {
  @TempDir Path dir;

  private AgentConfig config() {
    return new AgentConfig("n1", "127.0.0.1", 0, 0, "", dir, dir.resolve("server.log"),
        dir.resolve("audit.log"), false, null, null, null, Map.of(), List.of(), "qemu-system-x86_64",
        "tcg", "qemu", "cloud-hypervisor", "copy", 2, 1024, 5, NetworkConfig.defaults(),
        GoldenMode.OFF, List.of());
  }

  @Test
  void aJoinCutShortBeforeItsMarkerDoesNotServeAsStandalone() throws Exception {
    Path tls = Files.createDirectories(config().tlsDir());
    KeyAndCertificate clusterCa = Certificates.newCertificateAuthority("noid cluster CA");
    Pem.write(tls.resolve("ca.pem"), Pem.encode(clusterCa.certificate()), false);
    Certificates.newServerCertificate(clusterCa, "n1", List.of(), List.of(
        ClusterIdentities.nodeUri("n1"))).write(tls.resolve("node.pem"), tls.resolve("node-key.pem"));

    assertThatThrownBy(() -> NodeCredentials.open(config()))
        .isInstanceOf(StartupException.class)
        .hasMessageContaining("is from a join that did not finish")
        .hasMessageContaining("--join-token");
  }

  /** A node that ran standalone before it joined still has its standalone CA's key. */
  @Test
  void aJoinCutShortOnANodeThatRanStandaloneBeforeDoesNotServeAsStandalone() throws Exception {
    NodeCredentials.open(config());
    Path tls = config().tlsDir();
    KeyAndCertificate clusterCa = Certificates.newCertificateAuthority("noid cluster CA");
    Pem.write(tls.resolve("ca.pem"), Pem.encode(clusterCa.certificate()), false);
    Certificates.newServerCertificate(clusterCa, "n1", List.of(), List.of(
        ClusterIdentities.nodeUri("n1"))).write(tls.resolve("node.pem"), tls.resolve("node-key.pem"));
    assertThat(tls.resolve("standalone-ca-key.pem")).isRegularFile();

    assertThatThrownBy(() -> NodeCredentials.open(config()))
        .isInstanceOf(StartupException.class)
        .hasMessageContaining("is from a join that did not finish");
  }

  @Test
  void aStandaloneNodeStartsAgainOnItsOwnMaterial() {
    NodeCredentials first = NodeCredentials.open(config());
    NodeCredentials again = NodeCredentials.open(config());

    assertThat(first.joined()).isFalse();
    assertThat(again.joined()).isFalse();
    assertThat(config().tlsDir().resolve("standalone-ca-key.pem")).isRegularFile();
  }
}
