package dev.noid.agent.archive;

/** The archive could not be reached or refused the request; the message says which and why. */
public final class ArchiveUnavailable extends RuntimeException {
  public ArchiveUnavailable(String message, Throwable cause) {
    super(message, cause);
  }
}
