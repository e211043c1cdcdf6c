package dev.noid.common.config;

import ch.qos.logback.classic.Level;

/** Checks of option values every runnable shares, failing with one line that names the key. */
public final class ConfigChecks {
  private ConfigChecks() {}

  public static void port(String key, int port) {
    if (port < 0 || port > 65535) {
      throw new ConfigException("'" + key + "' must be a port number 0-65535; got " + port);
    }
  }

  public static Level logLevel(String value) {
    Level level = Level.toLevel(value, null);
    if (level == null) {
      throw new ConfigException("'log-level' must be one of TRACE, DEBUG, INFO, WARN, ERROR; got '"
          + value + "'");
    }
    return level;
  }
}
