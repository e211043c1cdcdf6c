package dev.noid.controller;

import dev.noid.common.config.ConfigException;
import dev.noid.common.config.ConfigFileArguments;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine;

/**
 * The controller's config file, one for every subcommand: {@code --config FILE}, else the file
 * named by {@value #ENV}, else {@code /etc/noid/controller.conf} when it exists. {@code serve}
 * takes all of it as flags; the host commands ({@code users}, {@code join-token}) read the same
 * file, checked against serve's keys, and keep the values they use ({@link #value}), so that
 * they work on the store the running controller uses.
 */
final class ControllerConfigFile {
  static final String ENV = "NOID_CONTROLLER_CONFIG";
  static final Path DEFAULT = Path.of("/etc/noid/controller.conf");
  private static final List<String> HOST_COMMANDS = List.of("users", "join-token");

  /** A command line made ready for picocli, and the file's values for the host commands. */
  record Prepared(String[] args, ControllerConfigFile config) {}

  private final Path file;
  private final Map<String, List<String>> values;

  private ControllerConfigFile(Path file, Map<String, List<String>> values) {
    this.file = file;
    this.values = values;
  }

  static ControllerConfigFile none() {
    return new ControllerConfigFile(null, Map.of());
  }

  /**
   * For {@code serve}: the located file made explicit ({@code --config} after the command's
   * name, where the launcher reads it). For the host commands: {@code --config} taken out (it
   * is not theirs to expand: its keys are serve's) and the file read here.
   */
  static Prepared prepare(String[] args, Map<String, String> env, Path defaultFile) {
    if (args.length == 0) {
      return new Prepared(args, none());
    }
    List<String> rest = new ArrayList<>(List.of(args));
    Path explicit = takeConfigOption(rest);
    Path located = explicit != null ? explicit : implicit(env, defaultFile);
    if (args[0].equals("serve") && located != null) {
      rest.addAll(1, List.of(ConfigFileArguments.CONFIG_OPTION, located.toString()));
      return new Prepared(rest.toArray(String[]::new), none());
    }
    if (HOST_COMMANDS.contains(args[0])) {
      return new Prepared(rest.toArray(String[]::new),
          located == null ? none() : read(located));
    }
    return new Prepared(args, none());
  }

  private static Path implicit(Map<String, String> env, Path defaultFile) {
    String named = env.getOrDefault(ENV, "");
    if (!named.isBlank()) {
      return Path.of(named); // named on purpose: a missing file is an error when read
    }
    return Files.isRegularFile(defaultFile) ? defaultFile : null;
  }

  private static Path takeConfigOption(List<String> args) {
    String option = ConfigFileArguments.CONFIG_OPTION;
    for (int i = 0; i < args.size(); i++) {
      String arg = args.get(i);
      if (arg.equals(option)) {
        if (i + 1 >= args.size()) {
          throw new ConfigException("option '--config' needs a file name");
        }
        args.remove(i);
        return Path.of(args.remove(i));
      }
      if (arg.startsWith(option + "=")) {
        args.remove(i);
        return Path.of(arg.substring(option.length() + 1));
      }
    }
    return null;
  }

  /** The file as serve would read it: every key must be one of serve's. */
  static ControllerConfigFile read(Path file) {
    CommandLine.Model.CommandSpec serve = new CommandLine(new ServeCommand()).getCommandSpec();
    // The file's lines as serve's flags ("--key=value"), then the one argument given.
    String[] expanded = ConfigFileArguments.expand(serve,
        new String[] {ConfigFileArguments.CONFIG_OPTION + "=" + file}, 0);
    Map<String, List<String>> values = new HashMap<>();
    for (String flag : List.of(expanded).subList(0, expanded.length - 1)) {
      int eq = flag.indexOf('=');
      values.computeIfAbsent(flag.substring(2, eq), k -> new ArrayList<>())
          .add(flag.substring(eq + 1));
    }
    return new ControllerConfigFile(file, values);
  }

  /** The key's last value in the file (a later line wins, as a later flag does), or null. */
  String value(String key) {
    List<String> all = values.get(key);
    return all == null ? null : all.get(all.size() - 1);
  }

  int intValue(String key, int otherwise) {
    String v = value(key);
    if (v == null) {
      return otherwise;
    }
    try {
      return Integer.parseInt(v);
    } catch (NumberFormatException e) {
      throw new ConfigException(file + ": '" + key + "' must be a number; got '" + v + "'");
    }
  }

  /** Every value of a list key (such as tls-name: repeated lines or commas). */
  List<String> list(String key) {
    List<String> out = new ArrayList<>();
    for (String v : values.getOrDefault(key, List.of())) {
      for (String part : v.split(",")) {
        if (!part.isBlank()) {
          out.add(part.strip());
        }
      }
    }
    return out;
  }
}
