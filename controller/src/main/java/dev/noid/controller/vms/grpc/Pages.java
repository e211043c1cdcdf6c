package dev.noid.controller.vms.grpc;

import com.google.protobuf.MessageLite;
import dev.noid.controller.api.FieldLimits;
import dev.noid.controller.domain.NoidException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.function.Function;

/**
 * One page of a List read (ListVms, ListCheckpoints) over items in the order of a unique string
 * key. The token names the last key of the page, so paging is stable under inserts and deletes.
 * A page also ends before {@link #MAX_PAGE_BYTES}, at least one item a page, so that it fits the
 * client's inbound limit (16 MiB, docs/api.md) whatever the items' labels.
 */
final class Pages {
  static final int DEFAULT_PAGE_SIZE = 100;
  /**
   * ListCheckpoints' page for a client that asks no size: every checkpoint up to the byte
   * bound, as before it paged, so that a client that never pages misses none while they fit.
   */
  static final int ALL_THAT_FIT = Integer.MAX_VALUE - 1;
  static final int MAX_PAGE_SIZE = 1000;
  static final int MAX_PAGE_BYTES = 8 << 20;

  /** The page's items, and the token for the next page (empty on the last). */
  record Page<M>(List<M> items, String nextToken) {}

  private Pages() {}

  /**
   * The page after {@code token} of {@code items}, which are in ascending {@code key} order;
   * {@code pageSize} 0 is {@code unasked}.
   */
  static <T, M extends MessageLite> Page<M> of(List<T> items, Function<T, String> key,
      Function<T, M> toProto, int pageSize, int unasked, String token) {
    int size = pageSize == 0 ? unasked
        : FieldLimits.atMost("page_size", pageSize, MAX_PAGE_SIZE);
    String after = decodeToken(token);
    List<T> page = items.stream().filter(t -> key.apply(t).compareTo(after) > 0)
        .limit(size + 1L).toList();
    List<M> out = new ArrayList<>();
    long bytes = 0;
    for (T t : page.subList(0, Math.min(size, page.size()))) {
      M m = toProto.apply(t);
      bytes += m.getSerializedSize();
      if (!out.isEmpty() && bytes > MAX_PAGE_BYTES) {
        break;
      }
      out.add(m);
    }
    String next = page.size() > out.size() ? encodeToken(key.apply(page.get(out.size() - 1)))
        : "";
    return new Page<>(out, next);
  }

  static String encodeToken(String lastKey) {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(
        ("after:" + lastKey).getBytes(StandardCharsets.UTF_8));
  }

  static String decodeToken(String token) {
    if (token.isEmpty()) {
      return "";
    }
    try {
      String s = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
      if (s.startsWith("after:")) {
        return s.substring(6);
      }
    } catch (IllegalArgumentException e) {
      // fall through
    }
    throw NoidException.invalid("page_token is not one this server issued");
  }
}
