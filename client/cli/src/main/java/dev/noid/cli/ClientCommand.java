package dev.noid.cli;

import dev.noid.client.NoidClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Option;

/** What every command that talks to the controller shares: config, client, output format. */
abstract class ClientCommand implements Callable<Integer> {
  enum Format { table, json }

  @Option(names = {"-o", "--output"}, defaultValue = "table", description = "table or json.")
  Format output;

  CliConfig config() {
    return CliConfig.load();
  }

  NoidClient client() {
    CliConfig c = config();
    if (c.url == null || c.token == null) {
      throw new CliException(CliException.AUTH,
          "not configured: run 'noid auth setup --url HOST:7655 --token TOKEN --ca-file CA.pem'");
    }
    NoidClient.Builder b = NoidClient.builder().target(c.url).token(c.token)
        .deadline(Duration.ofMinutes(10));
    if (c.caFile != null && !c.caFile.isEmpty()) {
      b.trustedCa(Path.of(c.caFile));
    }
    return b.build();
  }

  /** The named VM, or the current one set with 'noid use'. */
  String vm(String name) {
    if (name != null && !name.isEmpty()) {
      return name;
    }
    String current = config().current;
    if (current == null || current.isEmpty()) {
      throw new CliException(CliException.USAGE, "no VM given and none is current: name one, or run 'noid use VM'");
    }
    return current;
  }

  boolean json() {
    return output == Format.json;
  }

  @Override
  public final Integer call() {
    try (NoidClient client = needsClient() ? client() : null) {
      return run(client);
    }
  }

  boolean needsClient() {
    return true;
  }

  abstract int run(NoidClient client);
}
