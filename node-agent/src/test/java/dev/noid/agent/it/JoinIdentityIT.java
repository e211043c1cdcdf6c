package dev.noid.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.noid.api.agent.v1.AgentGrpc;
import dev.noid.api.agent.v1.AgentPeerGrpc;
import dev.noid.api.agent.v1.SendImageRequest;
import dev.noid.api.agent.v1.ExportCheckpointRequest;
import dev.noid.api.agent.v1.HeartbeatRequest;
import dev.noid.api.agent.v1.JoinRequest;
import dev.noid.api.agent.v1.JoinResponse;
import dev.noid.api.agent.v1.ListVmsRequest;
import dev.noid.api.agent.v1.NodeRegistrationGrpc;
import dev.noid.api.v1.NodeServiceGrpc;
import dev.noid.api.v1.RemoveNodeRequest;
import dev.noid.common.tls.Certificates;
import dev.noid.common.tls.KeyAndCertificate;
import dev.noid.common.tls.Pem;
import dev.noid.controller.testing.ControllerProcess;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Finding C1 of issue 19, as an attacker who holds one join token plays it against a real
 * controller and a real joined agent over TLS: they must not become the controller, take over
 * a node, get a certificate for a name they do not own, or keep a removed node's access.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class JoinIdentityIT {
  @TempDir static Path dir;
  private ControllerProcess controller;
  private AgentProcess agent;
  private String adminToken;
  private ManagedChannel anonymous;
  private final List<ManagedChannel> channels = new ArrayList<>();

  @BeforeAll
  void start() throws Exception {
    controller = new ControllerProcess(dir.resolve("controller"), dir).start();
    adminToken = controller.admin("users", "add", "admin", "--role", "admin");
    agent = new AgentProcess(dir.resolve("node-a"), dir, "--node-name", "node-a",
        "--controller", controller.address(), "--join-token", controller.admin("join-token"),
        "--controller-ca", controller.ca().toString()).start();
    anonymous = track(Grpc.newChannelBuilder(controller.address(), TlsChannelCredentials.newBuilder()
        .trustManager(controller.ca().toFile()).build()).build());
  }

  @AfterAll
  void stop() throws Exception {
    channels.forEach(ManagedChannel::shutdownNow);
    for (AutoCloseable c : new AutoCloseable[] {agent, controller}) {
      if (c != null) {
        c.close();
      }
    }
  }

  private ManagedChannel track(ManagedChannel ch) {
    channels.add(ch);
    return ch;
  }

  /** A Join as an attacker sends it: its own key, any name and address. */
  private JoinResponse join(String token, String name, String address, KeyPair key) {
    return NodeRegistrationGrpc.newBlockingStub(anonymous).withDeadlineAfter(30, TimeUnit.SECONDS)
        .join(JoinRequest.newBuilder().setJoinToken(token).setNodeName(name)
            .setAgentAddress(address).setCsrPem(Certificates.newCsrPem(key, name)).build());
  }

  /** TLS client material: {@code certificatePem} with {@code key}, trusting the cluster CA. */
  private TlsChannelCredentials.Builder presenting(String certificatePem, KeyPair key)
      throws Exception {
    Path d = Files.createTempDirectory(dir, "client");
    Files.writeString(d.resolve("c.pem"), certificatePem);
    Files.writeString(d.resolve("k.pem"), Pem.encode(key.getPrivate()));
    return (TlsChannelCredentials.Builder) TlsChannelCredentials.newBuilder()
        .keyManager(d.resolve("c.pem").toFile(), d.resolve("k.pem").toFile())
        .trustManager(controller.ca().toFile());
  }

  private ManagedChannel toAgent(String certificatePem, KeyPair key) throws Exception {
    return track(Grpc.newChannelBuilder("127.0.0.1:" + agent.grpcPort,
        presenting(certificatePem, key).build()).build());
  }

  private ManagedChannel toController(String certificatePem, KeyPair key) throws Exception {
    return track(Grpc.newChannelBuilder(controller.address(),
        presenting(certificatePem, key).build()).build());
  }

  private void removeNode(String name) throws Exception {
    NodeServiceGrpc.newBlockingStub(controller.channel())
        .withCallCredentials(ControllerProcess.bearer(adminToken))
        .withDeadlineAfter(30, TimeUnit.SECONDS)
        .removeNode(RemoveNodeRequest.newBuilder().setName(name).build());
  }

  private static void assertRefused(ThrowingCallable call, Status.Code code, String... words) {
    assertThatThrownBy(call).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
      assertThat(e.getStatus().getCode()).as("%s", e.getStatus()).isEqualTo(code);
      for (String w : words) {
        assertThat(e.getStatus().getDescription()).contains(w);
      }
    });
  }

  @Test
  void joiningUnderTheControllersNameIsRefused() throws Exception {
    String token = controller.admin("join-token");
    assertRefused(() -> join(token, "noid-controller", "127.0.0.1:1", Certificates.newKeyPair()),
        Status.Code.INVALID_ARGUMENT, "node_name", "noid-controller");
  }

  /**
   * What {@code Join{node_name:"noid-controller"}} used to return: a cluster-CA certificate
   * whose CN is the controller's. Minted here with the CA key, since Join no longer gives it.
   */
  @Test
  void aClusterCertificateWithTheControllersCnButNotItsIdentityCannotCallAgents()
      throws Exception {
    Path tls = controller.dataDir.resolve("tls");
    KeyAndCertificate ca = KeyAndCertificate.read(tls.resolve("ca.pem"), tls.resolve("ca-key.pem"));
    KeyPair key = Certificates.newKeyPair();
    X509Certificate forged = Certificates.issue(ca, "noid-controller", key.getPublic(),
        List.of("127.0.0.1"), Duration.ofDays(1));
    ManagedChannel ch = toAgent(Pem.encode(forged), key);
    assertRefused(() -> AgentGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
        .listVms(ListVmsRequest.getDefaultInstance()), Status.Code.PERMISSION_DENIED,
        "urn:noid:controller");
    assertRefused(() -> AgentGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
        .exportCheckpoint(ExportCheckpointRequest.newBuilder().setCheckpointId("ck-1").build())
        .hasNext(), Status.Code.PERMISSION_DENIED, "urn:noid:controller");
  }

  @Test
  void aJoinedNodesCertificateCannotCallAgents() throws Exception {
    KeyPair key = Certificates.newKeyPair();
    JoinResponse joined = join(controller.admin("join-token"), "node-m", "127.0.0.1:1", key);
    ManagedChannel ch = toAgent(joined.getCertificatePem(), key);
    assertRefused(() -> AgentGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
        .listVms(ListVmsRequest.getDefaultInstance()), Status.Code.PERMISSION_DENIED);
  }

  @Test
  void joiningUnderAnExistingNodesNameIsRefusedAndKeepsTheToken() throws Exception {
    String token = controller.admin("join-token");
    assertRefused(() -> join(token, "node-a", "127.0.0.1:1", Certificates.newKeyPair()),
        Status.Code.ALREADY_EXISTS, "node-a");
    // The refused request did not burn the token (finding L2).
    assertThat(join(token, "node-e", "127.0.0.1:1", Certificates.newKeyPair())
        .getCertificatePem()).isNotEmpty();
  }

  @Test
  void aJoinAddressNamingADnsNameTheOperatorDidNotAllowGetsNoCertificate() throws Exception {
    String token = controller.admin("join-token");
    for (String address : List.of("*.corp.example:1", "ctl.corp.example:7655", "127.0.0.1")) {
      assertRefused(() -> join(token, "node-w", address, Certificates.newKeyPair()),
          Status.Code.INVALID_ARGUMENT, "agent_address");
    }
    assertRefused(() -> NodeRegistrationGrpc.newBlockingStub(anonymous)
        .withDeadlineAfter(30, TimeUnit.SECONDS).join(JoinRequest.newBuilder().setJoinToken(token)
            .setNodeName("node-w").setAgentAddress("127.0.0.1:1").setCsrPem("not a csr").build()),
        Status.Code.INVALID_ARGUMENT, "csr_pem");
    KeyPair key = Certificates.newKeyPair();
    JoinResponse joined = join(token, "node-w", "10.1.2.3:7660", key);
    X509Certificate cert = Pem.certificate(joined.getCertificatePem());
    assertThat(cert.getSubjectAlternativeNames()).extracting(n -> n.get(1).toString())
        .containsExactlyInAnyOrder("10.1.2.3", "node-w.node.noid.invalid", "urn:noid:node:node-w");
  }

  private static HeartbeatRequest beat(String node) {
    return HeartbeatRequest.newBuilder().setNodeName(node).setAgentAddress("127.0.0.1:1").build();
  }

  @Test
  void aNodeSpeaksOnlyForItself() throws Exception {
    KeyPair key = Certificates.newKeyPair();
    JoinResponse joined = join(controller.admin("join-token"), "node-s", "127.0.0.1:1", key);
    var asNodeS = NodeRegistrationGrpc.newBlockingStub(toController(joined.getCertificatePem(), key));
    asNodeS.withDeadlineAfter(10, TimeUnit.SECONDS).heartbeat(beat("node-s"));
    assertRefused(() -> asNodeS.withDeadlineAfter(10, TimeUnit.SECONDS).heartbeat(beat("node-a")),
        Status.Code.PERMISSION_DENIED, "node-a");
  }

  @Test
  void aRemovedNodesCertificateStopsWorkingEvenAfterItsNameJoinsAgain() throws Exception {
    KeyPair key = Certificates.newKeyPair();
    JoinResponse joined = join(controller.admin("join-token"), "node-r", "127.0.0.1:1", key);
    var asNodeR = NodeRegistrationGrpc.newBlockingStub(toController(joined.getCertificatePem(), key));
    asNodeR.withDeadlineAfter(10, TimeUnit.SECONDS).heartbeat(beat("node-r"));

    removeNode("node-r");
    // The name is free again, for a new key; the old certificate stays refused.
    KeyPair again = Certificates.newKeyPair();
    JoinResponse rejoined = join(controller.admin("join-token"), "node-r", "127.0.0.1:1", again);
    NodeRegistrationGrpc.newBlockingStub(toController(rejoined.getCertificatePem(), again))
        .withDeadlineAfter(10, TimeUnit.SECONDS).heartbeat(beat("node-r"));
    assertRefused(() -> asNodeR.withDeadlineAfter(10, TimeUnit.SECONDS).heartbeat(beat("node-r")),
        Status.Code.PERMISSION_DENIED, "removed");
  }

  /**
   * A removed node keeps its key and certificate. Other agents must stop taking it for that
   * node, on the connection it already holds and on any new one, while a node still in the
   * cluster gets through as before; the name joined again with a new key works.
   */
  @Test
  void aRemovedNodesCertificateIsRefusedByOtherAgents() throws Exception {
    KeyPair key = Certificates.newKeyPair();
    JoinResponse removed = join(controller.admin("join-token"), "node-x", "127.0.0.1:1", key);
    KeyPair other = Certificates.newKeyPair();
    JoinResponse staying = join(controller.admin("join-token"), "node-y", "127.0.0.1:1", other);
    ManagedChannel held = toAgent(removed.getCertificatePem(), key);
    // Before: the agent takes the certificate for node-x's and asks for a grant.
    assertRefused(() -> askForAnImage(held), Status.Code.PERMISSION_DENIED, "grant");

    removeNode("node-x");
    KeyPair again = Certificates.newKeyPair();
    JoinResponse rejoined = join(controller.admin("join-token"), "node-x", "127.0.0.1:1", again);

    // node-a learns of it with its next heartbeats (every 500 ms here).
    await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertRefused(
        () -> askForAnImage(held), Status.Code.PERMISSION_DENIED, "revoked"));
    assertRefused(() -> askForAnImage(toAgent(removed.getCertificatePem(), key)),
        Status.Code.UNAVAILABLE);
    assertRefused(() -> askForAnImage(toAgent(staying.getCertificatePem(), other)),
        Status.Code.PERMISSION_DENIED, "grant");
    assertRefused(() -> askForAnImage(toAgent(rejoined.getCertificatePem(), again)),
        Status.Code.PERMISSION_DENIED, "grant");
    // Kept for QEMU's migration TLS, and for the agent's next start.
    assertThat(Files.readString(agent.stateDir.resolve("tls").resolve("revoked-nodes.pem")))
        .contains("BEGIN X509 CRL");
  }

  private static void askForAnImage(ManagedChannel ch) {
    AgentPeerGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
        .sendImage(SendImageRequest.getDefaultInstance()).hasNext();
  }

  @Test
  void aRemovedNodesHeartbeatIsRefused() throws Exception {
    KeyPair key = Certificates.newKeyPair();
    JoinResponse joined = join(controller.admin("join-token"), "node-g", "127.0.0.1:1", key);
    var asNodeG = NodeRegistrationGrpc.newBlockingStub(toController(joined.getCertificatePem(), key));
    asNodeG.withDeadlineAfter(10, TimeUnit.SECONDS).heartbeat(beat("node-g"));
    removeNode("node-g");
    assertRefused(() -> asNodeG.withDeadlineAfter(10, TimeUnit.SECONDS).heartbeat(beat("node-g")),
        Status.Code.PERMISSION_DENIED, "removed");
  }

  @Test
  void theRealAgentJoinedAndIsReady() {
    await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(
        NodeServiceGrpc.newBlockingStub(controller.channel())
            .withCallCredentials(ControllerProcess.bearer(adminToken))
            .withDeadlineAfter(10, TimeUnit.SECONDS)
            .getNode(dev.noid.api.v1.GetNodeRequest.newBuilder().setName("node-a").build())
            .getNode().getState()).isEqualTo(dev.noid.api.v1.NodeState.NODE_STATE_READY));
  }
}
