package dev.noid.agent.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A network namespace the test makes and removes, so the networking an agent sets up (bridge,
 * TAPs, nftables, forwarding) never touches the host's own network.
 */
final class Netns implements AutoCloseable {
  // Copies bytes between a unix socket (reachable from every namespace: it is a file) and a
  // TCP port inside the namespace.
  private static final String FORWARDER = """
      import os, socket, sys, threading
      path, port = sys.argv[1], int(sys.argv[2])
      def pump(a, b):
          try:
              while True:
                  data = a.recv(65536)
                  if not data:
                      break
                  b.sendall(data)
          except OSError:
              pass
          finally:
              for s in (a, b):
                  try:
                      s.shutdown(socket.SHUT_RDWR)
                  except OSError:
                      pass
      if os.path.exists(path):
          os.unlink(path)
      server = socket.socket(socket.AF_UNIX)
      server.bind(path)
      server.listen(64)
      while True:
          client, _ = server.accept()
          try:
              upstream = socket.create_connection(("127.0.0.1", port))
          except OSError:
              client.close()
              continue
          threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
          threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
      """;

  final String name;

  private Netns(String name) {
    this.name = name;
  }

  /** "noid-t-" + a random run id + "-" + {@code role}: runs (and roles) never collide. */
  static String uniqueName(String role) {
    return "noid-t-" + java.util.HexFormat.of().toHexDigits(
        java.util.concurrent.ThreadLocalRandom.current().nextInt()).substring(0, 6) + "-" + role;
  }

  static Netns create(String name) throws Exception {
    host("ip", "netns", "add", name);
    Netns ns = new Netns(name);
    ns.run("ip", "link", "set", "lo", "up");
    return ns;
  }

  List<String> prefix() {
    return List.of("ip", "netns", "exec", name);
  }

  /** Runs a command in the namespace; fails the test with its output if it fails. */
  String run(String... command) throws Exception {
    List<String> argv = new ArrayList<>(prefix());
    argv.addAll(List.of(command));
    return host(argv.toArray(String[]::new));
  }

  /** Runs a command in the namespace and returns its exit status and output, for checks. */
  Result tryRun(String... command) throws Exception {
    List<String> argv = new ArrayList<>(prefix());
    argv.addAll(List.of(command));
    return exec(argv);
  }

  record Result(int status, String output) {}

  boolean hasLink(String name) throws Exception {
    return tryRun("ip", "link", "show", "dev", name).status() == 0;
  }

  /** Starts a long-running command in the namespace (a server), output to {@code log}. */
  Process spawn(Path log, String... command) throws IOException {
    List<String> argv = new ArrayList<>(prefix());
    argv.addAll(List.of(command));
    return new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(log.toFile()).start();
  }

  Process forwardUnixSocket(Path socket, int port) {
    try {
      Path script = socket.resolveSibling("forward.py");
      Files.writeString(script, FORWARDER);
      return spawn(socket.resolveSibling(socket.getFileName() + ".out"), "/usr/bin/python3",
          script.toString(),
          socket.toAbsolutePath().toString(), String.valueOf(port));
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  static String host(String... command) throws Exception {
    Result r = exec(List.of(command));
    if (r.status() != 0) {
      throw new AssertionError(String.join(" ", command) + " exited with " + r.status() + ": "
          + r.output());
    }
    return r.output();
  }

  private static Result exec(List<String> argv) throws Exception {
    Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError(argv + " did not finish");
    }
    return new Result(p.exitValue(), out);
  }

  /**
   * Closes each of {@code all} in order, skipping nulls (what a failed start left unset) and going
   * on past failures, so that the namespaces given last are removed even when an agent in them
   * would not close; the first failure is thrown at the end.
   */
  static void closeAll(AutoCloseable... all) throws Exception {
    Exception first = null;
    for (AutoCloseable c : all) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception e) {
        if (first == null) {
          first = e;
        } else {
          first.addSuppressed(e);
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }

  /**
   * Kills what still runs in the namespace (only processes this test started there) and removes
   * it; its virtual links (veth, bridge, TAPs) go with it.
   */
  @Override
  public void close() throws Exception {
    Result pids = exec(List.of("ip", "netns", "pids", name));
    for (String pid : pids.output().split("\\s+")) {
      if (!pid.isBlank()) {
        ProcessHandle.of(Long.parseLong(pid)).ifPresent(ProcessHandle::destroyForcibly);
      }
    }
    exec(List.of("ip", "netns", "del", name));
  }
}
