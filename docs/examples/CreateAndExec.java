// A runnable example of the Java SDK. With the dev cluster up (deploy/dev/noid-dev up):
//
//   java --class-path client/cli/target/noid.jar docs/examples/CreateAndExec.java
//
// It reads the CLI's configuration (~/.noid/config.json) for the address, token and CA.
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.noid.api.v1.CreateVmRequest;
import dev.noid.client.ExecResult;
import dev.noid.client.NoidClient;
import dev.noid.client.NoidException;
import java.nio.file.Path;
import java.util.List;

public class CreateAndExec {
  public static void main(String[] args) throws Exception {
    JsonNode cfg = new ObjectMapper().readTree(
        Path.of(System.getProperty("user.home"), ".noid", "config.json").toFile());
    try (NoidClient noid = NoidClient.builder()
        .target(cfg.path("url").asText())
        .token(cfg.path("token").asText())
        .trustedCa(Path.of(cfg.path("caFile").asText()))
        .build()) {
      var vm = noid.createVm(CreateVmRequest.newBuilder().setCpus(1).setName("sdk-example").setMemMib(128).build());
      System.out.println("created " + vm.getName() + " on " + vm.getNode());
      ExecResult r = noid.exec("sdk-example", List.of("sh", "-c", "uname -r; echo warn >&2; exit 3"));
      System.out.printf("exit %d, stdout %s, stderr %s%n", r.exitCode(), r.stdoutText().strip(),
          r.stderrText().strip());
      var ck = noid.checkpoint("sdk-example", "example");
      System.out.println("checkpoint " + ck.getId() + " (" + ck.getSizeBytes() + " bytes)");
      noid.checkpointAsync("sdk-example", "async").thenAccept(c ->
          System.out.println("async checkpoint " + c.getId())).join();
      noid.destroyVm("sdk-example");
    } catch (NoidException e) {
      System.err.println(e.code() + ": " + e.getMessage());
      System.exit(1);
    }
  }
}
