package dev.noid.common.logging;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.rolling.RollingFileAppender;
import ch.qos.logback.core.rolling.SizeAndTimeBasedRollingPolicy;
import ch.qos.logback.core.util.FileSize;
import java.nio.file.Path;
import org.slf4j.LoggerFactory;

/**
 * Points logging where the process's configuration says: JSON lines to a rotated server log
 * (and to stderr when asked), and the audit logger to its own rotated file only. Done in code
 * because the paths come from the same config file and flags as everything else.
 */
public final class LogSetup {
  /** Logger name for the audit trail: every mutating call, who, what, result, duration. */
  public static final String AUDIT_LOGGER = "noid.audit";

  private LogSetup() {}

  public static void configure(Path serverLog, Path auditLog, boolean console, Level level) {
    LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
    context.reset();
    Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
    root.setLevel(level);
    if (serverLog != null) {
      root.addAppender(rollingFile(context, "server", serverLog));
    }
    if (console || serverLog == null) {
      root.addAppender(stderr(context));
    }
    // Netty and gRPC are chatty at DEBUG; their warnings still come through.
    context.getLogger("io.grpc.netty").setLevel(Level.INFO);
    context.getLogger("io.netty").setLevel(Level.INFO);
    Logger audit = context.getLogger(AUDIT_LOGGER);
    audit.setAdditive(false);
    audit.setLevel(Level.INFO);
    if (auditLog != null) {
      audit.addAppender(rollingFile(context, "audit", auditLog));
    } else {
      audit.addAppender(stderr(context));
    }
  }

  private static Appender<ILoggingEvent> stderr(LoggerContext context) {
    ConsoleAppender<ILoggingEvent> appender = new ConsoleAppender<>();
    appender.setContext(context);
    appender.setName("stderr");
    appender.setTarget("System.err");
    appender.setEncoder(encoder(context));
    appender.start();
    return appender;
  }

  private static Appender<ILoggingEvent> rollingFile(LoggerContext context, String name, Path file) {
    RollingFileAppender<ILoggingEvent> appender = new RollingFileAppender<>();
    appender.setContext(context);
    appender.setName(name);
    appender.setFile(file.toString());
    SizeAndTimeBasedRollingPolicy<ILoggingEvent> policy = new SizeAndTimeBasedRollingPolicy<>();
    policy.setContext(context);
    policy.setParent(appender);
    policy.setFileNamePattern(file + ".%d{yyyy-MM-dd}.%i.gz");
    policy.setMaxFileSize(FileSize.valueOf("100MB"));
    policy.setMaxHistory(14);
    policy.setTotalSizeCap(FileSize.valueOf("2GB"));
    policy.start();
    appender.setRollingPolicy(policy);
    appender.setEncoder(encoder(context));
    appender.start();
    return appender;
  }

  private static JsonLinesEncoder encoder(LoggerContext context) {
    JsonLinesEncoder encoder = new JsonLinesEncoder();
    encoder.setContext(context);
    encoder.start();
    return encoder;
  }
}
