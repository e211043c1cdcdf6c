package dev.noid.agent.bench;

import java.util.HashMap;
import java.util.Map;

/** The benchmark mains' {@code --name value} arguments. */
final class BenchArgs {
  private BenchArgs() {}

  static Map<String, String> parse(String[] args) {
    Map<String, String> opts = new HashMap<>();
    for (int i = 0; i < args.length; i++) {
      if (!args[i].startsWith("--") || i + 1 == args.length) {
        throw new IllegalArgumentException("usage: --name value ...; got '" + args[i] + "'");
      }
      opts.put(args[i].substring(2), args[++i]);
    }
    return opts;
  }

  static String required(Map<String, String> opts, String name) {
    String v = opts.get(name);
    if (v == null) {
      throw new IllegalArgumentException("--" + name + " is required");
    }
    return v;
  }
}
