package dev.noid.controller;

import dev.noid.controller.nodes.JoinService;
import dev.noid.controller.store.Store;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code noid-controller join-token}: prints a one-time token an agent joins with. */
@Command(name = "join-token", mixinStandardHelpOptions = true,
    description = "Create a one-time join token for a new node.")
public final class JoinTokenCommand extends StoreCommand implements Callable<Integer> {
  @Option(names = "--ttl-minutes", defaultValue = "60", description = "How long the token is valid.")
  long ttlMinutes;

  @Override
  public Integer call() {
    try (Store store = openStore()) {
      System.out.println(JoinService.createToken(store, Clock.systemUTC(), Duration.ofMinutes(ttlMinutes)));
    }
    return 0;
  }
}
