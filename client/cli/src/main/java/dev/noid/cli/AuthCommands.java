package dev.noid.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** auth setup: the first connection to a controller. */
final class AuthCommands {
  private AuthCommands() {}

  @Command(name = "auth", mixinStandardHelpOptions = true, description = "Configure access to a controller.",
      subcommands = {Setup.class})
  static final class Auth {}

  /**
   * Saves address, token and CA. The CA comes from --ca-file, or from the controller's own
   * handshake, checked against --ca-fingerprint; with neither, a person at a terminal is shown
   * the fingerprint and asked (as ssh does), and a script is refused.
   */
  @Command(name = "setup", mixinStandardHelpOptions = true,
      description = "Save the controller address, token and CA in the config directory (mode 0600).")
  static final class Setup implements Callable<Integer> {
    @Option(names = "--url", required = true, description = "Controller gRPC address host:port, or a comma list of every controller of the "
        + "cluster (the CLI follows the leader).") String url;
    @Option(names = "--token", description = "Your token (noid_tok_...). Seen by other local users"
        + " in the process list while this runs: prefer --token-file.") String token;
    @Option(names = "--token-file", description = "A file holding your token, as"
        + " 'noid-controller users add --token-file' writes it.") String tokenFile;
    @Option(names = "--ca-fingerprint", description = "sha256:HEX of the cluster CA, as 'noid users add' printed it.")
    String fingerprint;
    @Option(names = "--ca-file", description = "The cluster CA (ca.pem), instead of a fingerprint.") String caFile;

    @Override
    public Integer call() {
      Session session = Session.current();
      String presented = token(session);
      if (!presented.matches("noid_tok_[0-9a-f]{64}")) {
        throw new CliException(CliException.USAGE, (tokenFile == null ? "--token" : "the token in "
            + tokenFile) + " must be 'noid_tok_' followed by 64 hex characters");
      }
      if (fingerprint != null && caFile != null) {
        throw new CliException(CliException.USAGE, "give --ca-fingerprint or --ca-file, not both");
      }
      if (fingerprint != null && !fingerprint.toLowerCase(Locale.ROOT).matches("sha256:[0-9a-f]{64}")) {
        throw new CliException(CliException.USAGE, "--ca-fingerprint must be 'sha256:' followed by 64 hex "
            + "characters; got " + fingerprint);
      }
      String target = ControllerUrls.normalize(url);
      CliConfig c = CliConfig.loadFile();
      c.url = target;
      c.token = presented;
      if (caFile != null) {
        Path ca = session.resolve(caFile);
        ControllerCertificates.readFirst(ca);  // fail now, not at the first command
        c.caFile = ca.toString();
      } else {
        c.caFile = saveCa(trustedCa(session, target)).toString();
      }
      c.save();
      System.out.println("saved " + CliConfig.file());
      return 0;
    }

    private String token(Session session) {
      if ((token == null) == (tokenFile == null)) {
        throw new CliException(CliException.USAGE, "give --token or --token-file (one of them)");
      }
      if (token != null) {
        return token;
      }
      try {
        return Files.readString(session.resolve(tokenFile)).strip();
      } catch (IOException e) {
        throw new CliException(CliException.USAGE, "cannot read --token-file " + tokenFile + ": "
            + e.getMessage());
      }
    }

    private X509Certificate trustedCa(Session session, String target) {
      if (fingerprint == null && !(session.stdinTty() && session.stderrTty())) {
        throw new CliException(CliException.USAGE, "cannot tell whether the controller at " + target
            + " is the real one: pass --ca-fingerprint sha256:HEX (the admin's 'noid users add' prints "
            + "it) or --ca-file CA.pem");
      }
      if (fingerprint == null) {
        session.requireLocalTerminal();  // the question needs the real terminal
      }
      List<X509Certificate> chain = ControllerCertificates.presentedChain(target);
      X509Certificate ca;
      if (fingerprint != null) {
        String want = fingerprint.toLowerCase(Locale.ROOT);
        ca = chain.stream().filter(x -> ControllerCertificates.fingerprint(x).equals(want)).findFirst()
            .orElseThrow(() -> new CliException(CliException.AUTH, "the controller at " + target
                + " does not present a CA with fingerprint " + want + " (it presents "
                + ControllerCertificates.fingerprint(ControllerCertificates.topOf(chain))
                + "): check the fingerprint and the address; someone may be in between"));
      } else {
        ca = ControllerCertificates.topOf(chain);
        if (!ask(target, ca)) {
          throw new CliException(CliException.AUTH, "not trusted; nothing saved");
        }
      }
      ControllerCertificates.verify(target, chain, ca);
      return ca;
    }

    private static boolean ask(String target, X509Certificate ca) {
      System.err.println("The controller at " + target + " presents a certificate from the CA");
      System.err.println("  " + ca.getSubjectX500Principal().getName());
      System.err.println("with fingerprint " + ControllerCertificates.fingerprint(ca) + ".");
      return Prompt.yes("Is that your cluster's CA (compare with what your admin gave you)?");
    }

    private static Path saveCa(X509Certificate ca) {
      Path dir = CliConfig.dir();
      Path file = dir.resolve("ca.pem");
      try {
        Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path tmp = dir.resolve("ca.pem.tmp");
        Files.writeString(tmp, ControllerCertificates.pem(ca));
        Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      } catch (IOException e) {
        throw new CliException(CliException.FAILURE, "cannot write " + file + ": " + e.getMessage());
      }
      return file;
    }
  }
}
