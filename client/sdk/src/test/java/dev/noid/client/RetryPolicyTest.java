package dev.noid.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.api.v1.ImageServiceGrpc;
import dev.noid.api.v1.NodeServiceGrpc;
import dev.noid.api.v1.UserServiceGrpc;
import dev.noid.api.v1.VmServiceGrpc;
import io.grpc.MethodDescriptor;
import io.grpc.ServiceDescriptor;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The SDK retries every read of the public API on UNAVAILABLE, as docs/sdk.md says. */
class RetryPolicyTest {
  private static Set<String> retried() {
    Set<String> names = new HashSet<>();
    for (Map<String, ?> entry : RetryPolicy.methodConfigs(4)) {
      for (Object n : (List<?>) entry.get("name")) {
        Map<?, ?> name = (Map<?, ?>) n;
        names.add(name.get("service") + "/" + name.get("method"));
      }
    }
    return names;
  }

  @Test
  void everyUnaryGetAndListIsRetried() {
    Set<String> reads = new HashSet<>();
    for (ServiceDescriptor service : List.of(VmServiceGrpc.getServiceDescriptor(),
        NodeServiceGrpc.getServiceDescriptor(), UserServiceGrpc.getServiceDescriptor(),
        ImageServiceGrpc.getServiceDescriptor())) {
      for (MethodDescriptor<?, ?> m : service.getMethods()) {
        String bare = m.getBareMethodName();
        if (m.getType() == MethodDescriptor.MethodType.UNARY
            && (bare.startsWith("Get") || bare.startsWith("List") || bare.equals("WhoAmI"))) {
          reads.add(m.getFullMethodName());
        }
      }
    }

    assertThat(reads).isNotEmpty();
    assertThat(retried()).containsAll(reads);
  }

  @Test
  void aDestroyIsNotRetried() {
    assertThat(retried()).doesNotContain("noid.v1.VmService/DestroyVm");
  }
}
