package dev.noid.cli;

import java.util.List;
import java.util.Map;
import picocli.CommandLine;

/**
 * The line for a first word that is no command: which command was likely meant, from the words
 * other tools use (docker's rm, kubectl's delete) or from picocli's spelling suggestions.
 * Before, it was picocli's "Unmatched arguments from index 0: 'rm', 'web'".
 */
final class UnknownCommands {
  private static final Map<String, String> OTHER_TOOLS_WORDS = Map.ofEntries(
      Map.entry("rm", "destroy"), Map.entry("delete", "destroy"), Map.entry("remove", "destroy"),
      Map.entry("kill", "destroy"), Map.entry("ps", "list"), Map.entry("get", "info"),
      Map.entry("inspect", "info"), Map.entry("describe", "info"), Map.entry("run", "exec"),
      Map.entry("ssh", "exec"), Map.entry("shell", "exec"), Map.entry("attach", "console"),
      Map.entry("snapshot", "checkpoint"), Map.entry("rollback", "restore"),
      Map.entry("clone", "restore --as NEW"), Map.entry("move", "migrate"),
      Map.entry("login", "auth setup"));

  private UnknownCommands() {}

  /** The line for {@code ex}, or null when it is not about an unknown top-level command. */
  static String describe(CommandLine.ParameterException ex) {
    if (!(ex instanceof CommandLine.UnmatchedArgumentException u)
        || ex.getCommandLine().getParent() != null || u.getUnmatched().isEmpty()) {
      return null;
    }
    String word = u.getUnmatched().getFirst();
    if (word.startsWith("-")) {
      return null;
    }
    String meant = OTHER_TOOLS_WORDS.get(word);
    List<String> close = u.getSuggestions();
    if (meant == null && !close.isEmpty()) {
      meant = close.getFirst();
    }
    return "'" + word + "' is not a noid command" + (meant == null ? "" : "; did you mean 'noid "
        + meant + "'?") + " (see 'noid --help')";
  }
}
