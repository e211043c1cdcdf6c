package dev.noid.common.config;

/** Start-up failed for a reason outside the configuration (a port in use, an unreadable file). */
public final class StartupException extends RuntimeException {
  public StartupException(String message, Throwable cause) {
    super(message, cause);
  }

  public StartupException(String message) {
    super(message);
  }
}
