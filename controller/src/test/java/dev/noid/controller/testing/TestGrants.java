package dev.noid.controller.testing;

import dev.noid.common.tls.Certificates;
import dev.noid.common.tls.ClusterIdentities;
import dev.noid.controller.agents.grpc.TransferGrants;
import java.time.Clock;
import java.util.List;

/** A grant signer with a throwaway CA and controller identity, for tests that sign grants. */
public final class TestGrants {
  private TestGrants() {}

  public static TransferGrants signer(Clock clock) {
    var ca = Certificates.newCertificateAuthority("test CA");
    return new TransferGrants(Certificates.newServerCertificate(ca, "noid-controller", List.of(),
        List.of(ClusterIdentities.CONTROLLER)), clock);
  }
}
