package dev.noid.common.config;

/** A configuration problem found at start-up; the process reports it on one line and exits 2. */
public final class ConfigException extends RuntimeException {
  public ConfigException(String message) {
    super(message);
  }
}
