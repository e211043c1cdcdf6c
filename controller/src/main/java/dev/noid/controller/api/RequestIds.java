package dev.noid.controller.api;

import dev.noid.controller.domain.NoidException;
import java.util.regex.Pattern;

/**
 * Checks a client's request id (CreateVm's {@code request_id}) against {@link FieldLimits}. It
 * is stored with the VM and compared on every retry, so it is short and plain: at most
 * {@link FieldLimits#MAX_REQUEST_ID_CHARS} characters of {@code [A-Za-z0-9._-]}, empty for none.
 */
public final class RequestIds {
  private static final Pattern ID = Pattern.compile("[A-Za-z0-9._-]*");

  private RequestIds() {}

  /** {@code id} if it is within the limits; INVALID_ARGUMENT naming the field and the limit if not. */
  public static String check(String field, String id) {
    if (id.length() > FieldLimits.MAX_REQUEST_ID_CHARS) {
      throw NoidException.invalid(field + " is " + id.length() + " characters; at most "
          + FieldLimits.MAX_REQUEST_ID_CHARS + " are allowed");
    }
    if (!ID.matcher(id).matches()) {
      // The id is not quoted: it may hold anything, control characters among them.
      throw NoidException.invalid(field + ": at most " + FieldLimits.MAX_REQUEST_ID_CHARS
          + " characters of A-Z, a-z, 0-9, '.', '_' and '-' are allowed");
    }
    return id;
  }
}
