package dev.noid.controller.store;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserPrincipal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A throwaway PostgreSQL server from Debian's package (/usr/lib/postgresql/VERSION/bin), in a
 * temporary directory, listening on 127.0.0.1 on a free port with trust authentication. initdb
 * refuses to run as root, so under root the directory is given to the {@code postgres} user and
 * the server's tools run through {@code runuser}. {@code pg_ctl -w} returns once the server
 * accepts connections.
 */
public final class PostgresServer implements AutoCloseable {
  private static final Path INSTALL_ROOT = Path.of("/usr/lib/postgresql");
  private static final String SUPERUSER = "postgres";

  private final Path bin;
  private final Path base;
  private final Path data;
  private final boolean asPostgresUser;
  private final int port;
  private final Thread stopOnExit;
  private boolean stopped;

  private PostgresServer(Path bin, Path base, boolean asPostgresUser, int port) {
    this.bin = bin;
    this.base = base;
    this.data = base.resolve("data");
    this.asPostgresUser = asPostgresUser;
    this.port = port;
    // If the test JVM is killed before @AfterAll, do not leave a server behind.
    this.stopOnExit = new Thread(this::stopQuietly, "postgres-test-server-stop");
  }

  public static PostgresServer start() throws IOException, InterruptedException {
    return start(null);
  }

  /**
   * As {@link #start()}, also listening on every address and trusting clients from
   * {@code clientCidr} (e.g. a test's network namespaces), when not null.
   */
  public static PostgresServer start(String clientCidr) throws IOException, InterruptedException {
    Path bin = binDirectory();
    Path base = Files.createTempDirectory("noid-pg-");
    boolean root = ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0;
    Path sockets = Files.createDirectory(base.resolve("sockets"));
    if (root) {
      UserPrincipal postgres = base.getFileSystem().getUserPrincipalLookupService()
          .lookupPrincipalByName(SUPERUSER);
      Files.setOwner(base, postgres);
      Files.setOwner(sockets, postgres);
    }
    PostgresServer server = new PostgresServer(bin, base, root, freePort());
    server.run("initdb", "-D", server.data.toString(), "--auth=trust", "-U", SUPERUSER,
        "-E", "UTF8", "--locale=C", "--no-sync");
    String listen = "127.0.0.1";
    if (clientCidr != null) {
      listen = "'*'";
      Files.writeString(server.data.resolve("pg_hba.conf"),
          "host all all " + clientCidr + " trust\n", java.nio.file.StandardOpenOption.APPEND);
    }
    // fsync off (-F): the data is thrown away after the test class.
    server.run("pg_ctl", "-D", server.data.toString(), "-l", base.resolve("server.log").toString(),
        "-w", "-t", "120", "-o",
        "-F -p " + server.port + " -k " + sockets + " -c listen_addresses=" + listen, "start");
    Runtime.getRuntime().addShutdownHook(server.stopOnExit);
    return server;
  }

  /** Creates an empty database and returns its JDBC URL. */
  public String createDatabase(String name) throws SQLException {
    try (Connection c = DriverManager.getConnection(jdbcUrl("postgres"));
        Statement s = c.createStatement()) {
      s.execute("CREATE DATABASE " + name);
    }
    return jdbcUrl(name);
  }

  String jdbcUrl(String database) {
    return jdbcUrl("127.0.0.1", database);
  }

  /** The JDBC URL of {@code database} as a client reaches the server at {@code host}. */
  public String jdbcUrl(String host, String database) {
    return "jdbc:postgresql://" + host + ":" + port + "/" + database + "?user=" + SUPERUSER;
  }

  @Override
  public void close() throws IOException, InterruptedException {
    try {
      stop();
    } finally {
      Runtime.getRuntime().removeShutdownHook(stopOnExit);
    }
  }

  private synchronized void stop() throws IOException, InterruptedException {
    if (stopped) {
      return;
    }
    stopped = true;
    try {
      run("pg_ctl", "-D", data.toString(), "-m", "immediate", "-w", "stop");
    } finally {
      deleteTree(base);
    }
  }

  private void stopQuietly() {
    try {
      stop();
    } catch (IOException | InterruptedException | RuntimeException e) {
      System.err.println("stopping the test PostgreSQL server failed: " + e);
    }
  }

  /** Runs one of the server's tools to completion; its output goes to a file, not a pipe the
   * server (started by pg_ctl) could keep open. */
  private void run(String tool, String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>();
    if (asPostgresUser) {
      command.addAll(List.of("runuser", "-u", SUPERUSER, "--"));
    }
    command.add(bin.resolve(tool).toString());
    command.addAll(List.of(args));
    Path output = Files.createTempFile("noid-pg-" + tool + "-", ".out");
    try {
      Process p = new ProcessBuilder(command)
          .directory(base.toFile())
          .redirectErrorStream(true)
          .redirectOutput(output.toFile())
          .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
          .start();
      if (!p.waitFor(180, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException(String.join(" ", command) + " did not finish in 180 s");
      }
      if (p.exitValue() != 0) {
        String log = Files.exists(base.resolve("server.log"))
            ? Files.readString(base.resolve("server.log"), StandardCharsets.UTF_8) : "";
        throw new IllegalStateException(String.join(" ", command) + " exited " + p.exitValue()
            + ":\n" + Files.readString(output, StandardCharsets.UTF_8) + log);
      }
    } finally {
      Files.deleteIfExists(output);
    }
  }

  private static Path binDirectory() throws IOException {
    if (!Files.isDirectory(INSTALL_ROOT)) {
      throw new IllegalStateException("no PostgreSQL server under " + INSTALL_ROOT
          + ": install Debian's 'postgresql' package (deploy/dev/noid-dev test does)");
    }
    try (Stream<Path> versions = Files.list(INSTALL_ROOT)) {
      return versions
          .filter(v -> Files.isExecutable(v.resolve("bin/initdb"))
              && Files.isExecutable(v.resolve("bin/pg_ctl")))
          .max(Comparator.comparing(PostgresServer::majorVersion))
          .map(v -> v.resolve("bin"))
          .orElseThrow(() -> new IllegalStateException("no initdb/pg_ctl under "
              + INSTALL_ROOT + "/*/bin: install Debian's 'postgresql' package"));
    }
  }

  private static int majorVersion(Path versionDir) {
    try {
      return Integer.parseInt(versionDir.getFileName().toString());
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  private static int freePort() {
    return dev.noid.controller.testing.FreePorts.next();
  }

  private static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(root)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> {
        try {
          Files.delete(p);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
    }
  }
}
