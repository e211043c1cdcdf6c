package dev.noid.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.api.v1.VmServiceGrpc;
import io.grpc.MethodDescriptor;
import io.grpc.ServiceDescriptor;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import picocli.CommandLine;

/**
 * Every RPC of every public noid.v1 service is reachable from the CLI: some command names it
 * in its {@link Calls}, or it is on {@link #NO_COMMAND} with the reason.
 */
class CommandParityTest {
  /**
   * RPCs that deliberately have no command, each with why. Empty today: every RPC has one
   * (CreateVms is `create --count`, WatchVms/WatchNodes are `watch` / `nodes watch`).
   * Add an entry as "Service/Method", "reason", e.g. "VmService/Foo", "internal to the SDK".
   */
  private static final Map<String, String> NO_COMMAND = Map.of();

  @org.junit.jupiter.api.Test
  void everyPublicRpcHasACommandOrAStatedReason() throws Exception {
    Set<String> rpcs = publicRpcs();
    Set<String> called = calledByCommands(NoidCli.model());
    Set<String> missing = new TreeSet<>(rpcs);
    missing.removeAll(called);
    missing.removeAll(NO_COMMAND.keySet());
    assertThat(missing).as("RPCs without a CLI command and not on NO_COMMAND").isEmpty();
    assertThat(rpcs).as("@Calls must name real RPCs").containsAll(called);
    assertThat(rpcs).as("NO_COMMAND must name real RPCs").containsAll(NO_COMMAND.keySet());
    assertThat(NO_COMMAND.values()).as("every exclusion says why").allMatch(r -> !r.isBlank());
    Set<String> both = new TreeSet<>(called);
    both.retainAll(NO_COMMAND.keySet());
    assertThat(both).as("an excluded RPC that has a command should leave NO_COMMAND").isEmpty();
  }

  @org.junit.jupiter.api.Test
  void theServicesAreFoundFromTheGeneratedCode() throws Exception {
    // Guards the discovery itself: the three services of today, and their well-known RPCs.
    assertThat(publicRpcs()).contains("VmService/CreateVm", "NodeService/RemoveNode", "UserService/WhoAmI");
  }

  /** "Service/Method" of every *Grpc class generated in the public API's package. */
  static Set<String> publicRpcs() throws IOException, URISyntaxException, ReflectiveOperationException {
    Path root = Path.of(VmServiceGrpc.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    String pkg = VmServiceGrpc.class.getPackageName();
    Set<String> out = new TreeSet<>();
    for (String name : grpcClassNames(root, pkg.replace('.', '/'))) {
      ServiceDescriptor sd = (ServiceDescriptor) Class.forName(pkg + "." + name)
          .getMethod("getServiceDescriptor").invoke(null);
      for (MethodDescriptor<?, ?> m : sd.getMethods()) {
        out.add(m.getFullMethodName().substring(m.getFullMethodName().lastIndexOf('.') + 1));
      }
    }
    return out;
  }

  private static Set<String> grpcClassNames(Path root, String dir) throws IOException {
    Set<String> names = new TreeSet<>();
    if (Files.isDirectory(root)) {
      try (Stream<Path> files = Files.list(root.resolve(dir))) {
        files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith("Grpc.class"))
            .forEach(n -> names.add(n.substring(0, n.length() - ".class".length())));
      }
    } else {
      try (var jar = new java.util.jar.JarFile(root.toFile())) {
        jar.stream().map(java.util.jar.JarEntry::getName)
            .filter(n -> n.startsWith(dir + "/") && n.endsWith("Grpc.class") && n.indexOf('/', dir.length() + 1) < 0)
            .forEach(n -> names.add(n.substring(dir.length() + 1, n.length() - ".class".length())));
      }
    }
    assertThat(names).as("generated service classes in " + root).isNotEmpty();
    return names;
  }

  private static Set<String> calledByCommands(CommandLine cmd) {
    Set<String> out = new TreeSet<>();
    Object user = cmd.getCommandSpec().userObject();
    Class<?> type = user instanceof Class<?> c ? c : user.getClass();
    Calls calls = type.getAnnotation(Calls.class);
    if (calls != null) {
      out.addAll(Set.of(calls.value()));
    }
    cmd.getSubcommands().values().forEach(sub -> out.addAll(calledByCommands(sub)));
    return out;
  }
}
