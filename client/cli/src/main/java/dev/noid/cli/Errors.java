package dev.noid.cli;

import dev.noid.client.NoidException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.UnknownHostException;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateException;
import javax.net.ssl.SSLException;

/**
 * Turns a failed call into one line that names the address tried and the likely fix. gRPC
 * reports a refused port, an unknown host or an untrusted certificate all as UNAVAILABLE with
 * Netty's pipeline in the message; users need to know which, and what to pass instead.
 */
final class Errors {
  private static final String SETUP = "noid auth setup --url HOST:PORT --token TOKEN --ca-fingerprint sha256:HEX";

  private static final String NETWORK_CLOSED = "Network closed for unknown reason";

  private static final String WHERE = "the address comes from NOID_URL or 'noid auth setup --url'";

  private Errors() {}

  static String describe(NoidException e, String target) {
    // With several controllers the call went to whichever led, or waited for one in vain.
    String at = target == null ? "the controller"
        : target.contains(",") ? "any of " + target.replace(",", ", ") : target;
    switch (e.code()) {
      case UNAUTHENTICATED:
        return "the controller at " + at + " does not accept this token (" + e.getMessage()
            + "): ask an admin for a new one ('noid users rotate NAME') and save it with "
            + "'noid auth setup' or set NOID_TOKEN";
      case PERMISSION_DENIED:
        return e.getMessage() + " (ask an admin)";
      case UNAVAILABLE:
      case DEADLINE_EXCEEDED:
        return transport(e, at);
      default:
        return e.getMessage();
    }
  }

  private static String transport(NoidException e, String at) {
    if (!fromTransport(e)) {
      // gRPC's own word for a connection that closed under an open call carries no cause.
      return NETWORK_CLOSED.equals(e.getMessage()) ? broke(at, e.getMessage())
          : e.getMessage();  // the controller's own answer, e.g. a node it cannot reach
    }
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof UnknownHostException) {
        return "cannot connect to " + at + ": unknown host; check the address (" + WHERE + ")";
      }
      if (t instanceof ConnectException || t instanceof NoRouteToHostException
          || String.valueOf(t.getMessage()).contains("Connection refused")) {
        return "cannot connect to " + at + ": connection refused; is the controller running, and is "
            + "this its gRPC address and port (default 7655)? (" + WHERE + ")";
      }
    }
    // The TLS exception wraps the trust manager's: look for the certificate problem first.
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof CertPathValidatorException || t instanceof CertificateException) {
        return "the certificate of " + at + " does not verify against the trusted CA (" + firstLine(t.getMessage())
            + "): the CA file is not this cluster's, or none is configured; run '" + SETUP
            + "' with the cluster CA's fingerprint (the admin has it), or pass --ca-file CA.pem";
      }
    }
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SSLException) {
        return "TLS with " + at + " failed: " + firstLine(t.getMessage()) + "; is this the "
            + "controller's gRPC address, and the CA this cluster's? ('" + SETUP + "')";
      }
    }
    if (e.code() == io.grpc.Status.Code.DEADLINE_EXCEEDED) {
      return "no answer from " + at + " in time: " + e.getMessage();
    }
    // Reached, then lost: a controller that died as the call went out (a failover's first
    // moment) resets the connection. Whether it had begun the work cannot be known here.
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof java.io.IOException && String.valueOf(t.getMessage()).contains("reset")) {
        return broke(at, firstLine(t.getMessage()));
      }
    }
    return "cannot reach " + at + ": " + firstLine(e.getMessage())
        + " (is the controller running and the address right? " + WHERE + ")";
  }

  private static String broke(String at, String detail) {
    return "the connection to " + at + " broke during the call (" + detail + "): it may or may"
        + " not have been carried out; check, then run it again" + (at.startsWith("any of ")
        ? " (if a controller just stopped, another leads within seconds)" : "");
  }

  /** A status the controller sent has no local cause; one made by our transport does. */
  private static boolean fromTransport(NoidException e) {
    for (Throwable t = e.getCause(); t != null; t = t.getCause()) {
      if (!(t instanceof io.grpc.StatusRuntimeException) && !(t instanceof io.grpc.StatusException)) {
        return true;
      }
    }
    return false;
  }

  private static String firstLine(String s) {
    if (s == null) {
      return "";
    }
    int cut = s.indexOf("Channel Pipeline");
    String one = (cut >= 0 ? s.substring(0, cut) : s).lines().findFirst().orElse("").strip();
    return one.endsWith(":") ? one.substring(0, one.length() - 1) : one;
  }
}
