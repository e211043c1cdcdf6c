package dev.noid.common.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Turns a config file into command-line options so that the file and flags share one set of
 * names, one parser and one validation: the file's {@code key = value} is exactly
 * {@code --key=value}, and flags given on the command line win over the file.
 *
 * <p>The file format is one {@code key = value} per line; blank lines and lines starting with
 * {@code #} are ignored. An unknown key is an error naming the file, the line and the key.
 */
public final class ConfigFileArguments {
  public static final String CONFIG_OPTION = "--config";

  private ConfigFileArguments() {}

  /**
   * Returns the arguments with the config file's options (if {@code --config} is given)
   * inserted at {@code at}: after a subcommand's name, before the flags, so the flags win.
   */
  public static String[] expand(CommandSpec spec, String[] args, int at) {
    Path file = findConfigFile(args);
    if (file == null) {
      return args;
    }
    List<String> merged = new ArrayList<>(List.of(args).subList(0, at));
    merged.addAll(read(file, optionNames(spec)));
    merged.addAll(List.of(args).subList(at, args.length));
    return merged.toArray(String[]::new);
  }

  static Path findConfigFile(String[] args) {
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals(CONFIG_OPTION)) {
        if (i + 1 >= args.length) {
          throw new ConfigException("option '--config' needs a file name");
        }
        return Path.of(args[i + 1]);
      }
      if (args[i].startsWith(CONFIG_OPTION + "=")) {
        return Path.of(args[i].substring(CONFIG_OPTION.length() + 1));
      }
    }
    return null;
  }

  static Set<String> optionNames(CommandSpec spec) {
    Set<String> names = new HashSet<>();
    for (OptionSpec option : spec.options()) {
      for (String name : option.names()) {
        if (name.startsWith("--")) {
          names.add(name.substring(2));
        }
      }
    }
    names.remove("config");
    names.remove("help");
    names.remove("version");
    return names;
  }

  static List<String> read(Path file, Set<String> known) {
    List<String> lines;
    try {
      lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new ConfigException("cannot read config file " + file + ": " + e.getMessage());
    }
    List<String> args = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      String where = file + ":" + (i + 1);
      int eq = line.indexOf('=');
      if (eq <= 0) {
        throw new ConfigException(where + ": expected 'key = value', got '" + line + "'");
      }
      String key = line.substring(0, eq).strip();
      String value = line.substring(eq + 1).strip();
      if (!known.contains(key)) {
        throw new ConfigException(where + ": unknown key '" + key + "' (known keys: "
            + String.join(", ", new TreeSet<>(known)) + ")");
      }
      args.add("--" + key + "=" + value);
    }
    return args;
  }

  /** For tests and help output: the keys a command accepts in its config file. */
  public static Set<String> keys(CommandLine commandLine) {
    return new TreeSet<>(optionNames(commandLine.getCommandSpec()));
  }
}
