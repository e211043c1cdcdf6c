package dev.noid.controller.scale.load;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.random.RandomGenerator;

/** Relative weights of the operations in a mixed load; parsed from "create=20,destroy=20,...". */
public record Mix(Map<Op, Integer> weights) {
  public enum Op {
    CREATE, DESTROY, CHECKPOINT, LIST, EXEC, GET,
    /** One CreateVms call (only in batch fills: a mix never picks it). */
    CREATE_BATCH
  }

  public static final Mix DEFAULT = parse("create=20,destroy=20,checkpoint=10,list=20,exec=20,get=10");

  public Mix {
    weights = Map.copyOf(weights);
    if (weights.values().stream().mapToInt(Integer::intValue).sum() <= 0) {
      throw new IllegalArgumentException("mix: at least one weight must be positive");
    }
  }

  public static Mix parse(String text) {
    Map<Op, Integer> w = new LinkedHashMap<>();
    for (String part : text.split(",")) {
      String[] kv = part.trim().split("=");
      if (kv.length != 2) {
        throw new IllegalArgumentException("mix: '" + part + "' is not op=weight");
      }
      Op op;
      try {
        op = Op.valueOf(kv[0].trim().toUpperCase(java.util.Locale.ROOT));
        if (op == Op.CREATE_BATCH) {
          throw new IllegalArgumentException("not in a mix");
        }
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("mix: unknown operation '" + kv[0] + "' (known: create, destroy,"
            + " checkpoint, list, exec, get)", e);
      }
      int weight = Integer.parseInt(kv[1].trim());
      if (weight < 0) {
        throw new IllegalArgumentException("mix: weight of " + kv[0] + " must be >= 0; got " + weight);
      }
      w.put(op, weight);
    }
    return new Mix(w);
  }

  Op pick(RandomGenerator random) {
    int total = weights.values().stream().mapToInt(Integer::intValue).sum();
    int r = random.nextInt(total);
    for (Op op : Op.values()) {
      r -= weights.getOrDefault(op, 0);
      if (r < 0) {
        return op;
      }
    }
    throw new IllegalStateException("unreachable: weights sum to " + total);
  }
}
