package dev.noid.cli;

import dev.noid.client.NoidClient;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Option;

/** What every command that talks to the controller shares: config, client, output format. */
abstract class ClientCommand implements Callable<Integer> {
  enum Format { table, json }

  @Option(names = {"-o", "--output"}, defaultValue = "table", description = "table or json.")
  Format output;

  /** Set by the daemon to its channel cache. */
  static volatile Connections connections = Connections.FRESH;
  /**
   * With several controllers, how long a command waits for one to lead before it gives up: a
   * failover takes about 4 s (docs/operations.md), and calls would otherwise wait for a leader
   * until their 10-minute deadline when every controller is down.
   */
  static volatile java.time.Duration leaderWait = java.time.Duration.ofSeconds(30);

  /** The controller address (or comma list of them) this command talks to, for messages. */
  String target;

  CliConfig config() {
    return CliConfig.load();
  }

  NoidClient client() {
    CliConfig c = config();
    if (c.url == null || c.token == null) {
      throw new CliException(CliException.AUTH, "not configured (no " + CliConfig.file() + ", no NOID_URL/"
          + "NOID_TOKEN): run 'noid auth setup --url HOST:7655 --token TOKEN --ca-fingerprint sha256:HEX'");
    }
    target = ControllerUrls.normalize(c.url);
    NoidClient client;
    try {
      client = connections.client(target, c.token,
          c.caFile != null && !c.caFile.isEmpty() ? Path.of(c.caFile) : null);
    } catch (java.io.UncheckedIOException e) {
      // A CA file gone with the cluster that made it (a wiped dev cluster): say which and why.
      throw new CliException(CliException.AUTH, e.getMessage() + " (" + e.getCause() + "): it"
          + " comes from NOID_CA_FILE or " + CliConfig.file() + "; run 'noid auth setup' again");
    }
    if (target.contains(",")) {
      awaitLeader(client);
    }
    return client;
  }

  private void awaitLeader(NoidClient client) {
    boolean leads;
    try {
      leads = client.awaitConnected(leaderWait);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CliException(CliException.INTERRUPTED, "interrupted");
    }
    if (!leads) {
      client.close();
      throw new CliException(CliException.UNAVAILABLE, "no controller leads among "
          + target.replace(",", ", ") + " (waited " + leaderWait.toSeconds() + " s): is any of"
          + " them running, and are these their gRPC addresses? (the addresses come from"
          + " NOID_URL or 'noid auth setup --url'; 'noid-dev status' shows a dev cluster's)");
    }
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
      Timing.mark("setup");
      try {
        return run(client);
      } finally {
        Timing.mark(Session.current().remote() ? "call" : "handshake+call");
      }
    }
  }

  boolean needsClient() {
    return true;
  }

  abstract int run(NoidClient client);
}
