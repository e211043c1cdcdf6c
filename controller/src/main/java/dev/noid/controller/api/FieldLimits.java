package dev.noid.controller.api;

import dev.noid.controller.domain.NoidException;

/**
 * Upper bounds of the public API's unsigned numbers, checked at the edge. Java reads a uint32
 * as an int, so 4294967294 arrives as -2: every check compares the unsigned value, and the
 * error names the field, the value the client sent and the limit (docs/api.md).
 */
public final class FieldLimits {
  public static final int MAX_CPUS = 256;
  /** 4 TiB. */
  public static final int MAX_MEM_MIB = 4 * 1024 * 1024;
  /** 16 TiB. */
  public static final int MAX_DISK_MIB = 16 * 1024 * 1024;
  /** A day. */
  public static final int MAX_EXEC_TIMEOUT_SECONDS = 86_400;
  /** 1 GiB of stdout + stderr. */
  public static final long MAX_EXEC_OUTPUT_BYTES = 1L << 30;
  /** A terminal's rows and columns are unsigned 16-bit in the kernel's winsize. */
  public static final int MAX_TERMINAL_CELLS = 65_535;
  /** The highest Linux real-time signal. */
  public static final int MAX_SIGNAL = 64;

  // Labels and node selectors (issue 19 H2): they travel in every agent spec and are stored with
  // the VM, so each is bounded, not only their count.
  /** Labels (or node selector entries) a VM may carry. */
  public static final int MAX_LABELS = 64;
  /** A label key: {@code [a-z0-9]([-a-z0-9_.]*[a-z0-9])?}, at most this many characters. */
  public static final int MAX_LABEL_KEY_CHARS = 63;
  /** A label value, in bytes of UTF-8. */
  public static final int MAX_LABEL_VALUE_BYTES = 256;

  /** A CreateVm's request_id: characters of [A-Za-z0-9._-] ({@link RequestIds}). */
  public static final int MAX_REQUEST_ID_CHARS = 64;

  private FieldLimits() {}

  /** {@code value}, a uint32, if it is at most {@code limit}. */
  public static int atMost(String field, int value, long limit) {
    long unsigned = Integer.toUnsignedLong(value);
    if (unsigned > limit) {
      throw NoidException.invalid(field + " " + unsigned + " exceeds the limit of " + limit);
    }
    return value;
  }

  /** {@code value}, a uint64, if it is at most {@code limit}. */
  public static long atMost(String field, long value, long limit) {
    if (Long.compareUnsigned(value, limit) > 0) {
      throw NoidException.invalid(field + " " + Long.toUnsignedString(value)
          + " exceeds the limit of " + limit);
    }
    return value;
  }
}
