package dev.noid.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.util.List;
import java.util.Locale;

/** A yes/no question on the terminal (stderr, answer on stdin); only "y" or "yes" is a yes. */
final class Prompt {
  private Prompt() {}

  static boolean yes(String question) {
    System.err.print(question + " [yes/no] ");
    System.err.flush();
    try {
      String answer = new BufferedReader(new InputStreamReader(System.in)).readLine();
      return answer != null && List.of("y", "yes").contains(answer.strip().toLowerCase(Locale.ROOT));
    } catch (IOException e) {
      return false;
    }
  }
}
