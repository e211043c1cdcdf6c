package dev.noid.agent.bench;

import dev.noid.agent.it.AgentCreates;
import dev.noid.agent.archive.ArchiveSettings;
import dev.noid.agent.archive.CheckpointArchive;
import dev.noid.agent.archive.ChunkedArchive;
import dev.noid.agent.archive.S3Storage;
import dev.noid.agent.checkpoint.CheckpointStore;
import dev.noid.agent.checkpoint.CheckpointTransfer;
import dev.noid.agent.checkpoint.TestCheckpoints;
import dev.noid.agent.memory.MemoryBases;
import dev.noid.api.agent.v1.ArchiveManifest;
import dev.noid.api.agent.v1.CheckpointFile;
import dev.noid.api.agent.v1.CreateCheckpointRequest;
import dev.noid.api.agent.v1.CreateVmRequest;
import dev.noid.api.agent.v1.DestroyVmRequest;
import dev.noid.api.agent.v1.NodeReport;
import dev.noid.api.agent.v1.VmSpec;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * The checkpoint archive (issue 23) against an S3 server (s3proxy over a directory, started by
 * deploy/bench/archive-bench.sh), in one run:
 * <ul>
 *   <li>throughput: a checkpoint of --size-mib MiB of random bytes (no chunk repeats) uploaded
 *       through the archive and fetched onto another node's store, against one raw S3 PUT and
 *       one raw GET of the same bytes to and from the same server, --rounds times;
 *   <li>dedup: --clones VMs created from one golden snapshot on a real agent with the archive,
 *       one checkpoint each, uploaded by the agent; the bytes the archive stores against the
 *       bytes of the checkpoints' files.
 * </ul>
 *
 * <p>Arguments: --agent-address HOST:PORT --agent-state-dir DIR --work-dir DIR --s3-endpoint URL
 * --s3-credentials FILE --bucket NAME [--size-mib 256] [--rounds 3] [--clones 10]
 * [--mem-mib 128] [--image dev] [--qemu-binary qemu-system-x86_64].
 */
public final class ArchiveBench {
  private static final double MIB = 1 << 20;

  private ArchiveBench() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> opts = BenchArgs.parse(args);
    int sizeMib = Integer.parseInt(opts.getOrDefault("size-mib", "256"));
    int rounds = Integer.parseInt(opts.getOrDefault("rounds", "3"));
    int clones = Integer.parseInt(opts.getOrDefault("clones", "10"));
    int memMib = Integer.parseInt(opts.getOrDefault("mem-mib", "128"));
    String image = opts.getOrDefault("image", "dev");
    Path work = Path.of(BenchArgs.required(opts, "work-dir"));
    String endpoint = BenchArgs.required(opts, "s3-endpoint");
    Path credentials = Path.of(BenchArgs.required(opts, "s3-credentials"));
    String bucket = BenchArgs.required(opts, "bucket");
    Machine machine = Machine.describe(opts.getOrDefault("qemu-binary", "qemu-system-x86_64"));
    String loadBefore = Machine.loadAverage();

    Samples put = new Samples("raw S3 PUT, one object", "MiB/s");
    Samples get = new Samples("raw S3 GET, one object", "MiB/s");
    Samples up = new Samples("archive upload", "MiB/s");
    Samples fetch = new Samples("archive fetch onto another node", "MiB/s");
    byte[] data = new byte[sizeMib << 20];
    new Random(23).nextBytes(data);
    try (S3Client s3 = client(bucket, endpoint, credentials)) {
      for (int r = 1; r <= rounds; r++) {
        // A prefix per round: every upload writes every chunk, as a first checkpoint does.
        ArchiveSettings settings = ArchiveSettings.parse("s3://" + bucket + "/throughput-" + r
            + "?endpoint=" + endpoint + "&path_style=true", credentials);
        Path round = work.resolve("round-" + r);
        CheckpointStore a = new CheckpointStore(round.resolve("a"));
        TestCheckpoints.make(a, "ck-bench", Map.of("memory", data));
        String rawKey = "raw-" + r + "/blob";
        long t = System.nanoTime();
        s3.putObject(b -> b.bucket(bucket).key(rawKey), RequestBody.fromBytes(data));
        put.add(rate(sizeMib, t));
        t = System.nanoTime();
        byte[] back = s3.getObjectAsBytes(b -> b.bucket(bucket).key(rawKey)).asByteArray();
        get.add(rate(sizeMib, t));
        if (back.length != data.length) {
          throw new IllegalStateException("raw GET returned " + back.length + " bytes");
        }
        try (ChunkedArchive from = archive(settings, a, round.resolve("a"));
            ChunkedArchive to = archive(settings, new CheckpointStore(round.resolve("b")),
                round.resolve("b"))) {
          t = System.nanoTime();
          from.upload("ck-bench");
          up.add(rate(sizeMib, t));
          t = System.nanoTime();
          to.fetch("ck-bench");
          fetch.add(rate(sizeMib, t));
        }
        progress("throughput round %d/%d done", r, rounds);
      }

      Dedup dedup;
      NodeReport node;
      try (BenchClient agent = BenchClient.connect(BenchArgs.required(opts, "agent-address"),
          Path.of(BenchArgs.required(opts, "agent-state-dir")), work.resolve("agent"))) {
        node = agent.node();
        dedup = dedup(agent, s3, bucket, clones, memMib, image);
      }
      String where = Report.where(machine, node);
      StringBuilder out = new StringBuilder(Report.machineLines(machine, node))
          .append("S3 server: s3proxy 2.6.0 (filesystem backend) on loopback; ").append(sizeMib)
          .append(" MiB of random bytes, ").append(rounds).append(" rounds\n\n")
          .append("| throughput | n | median | min | where |\n| --- | --- | --- | --- | --- |\n");
      for (Samples s : List.of(put, up, get, fetch)) {
        out.append("| ").append(s.name()).append(" | ").append(s.count()).append(" | ")
            .append(Report.value(s, s.median())).append(" | ")
            .append(Report.value(s, s.percentile(1))).append(" | ").append(where).append(" |\n");
      }
      out.append(String.format(Locale.ROOT, "%nRatios of medians: upload / raw PUT %.2f, fetch"
          + " / raw GET %.2f%n%n", up.median() / put.median(), fetch.median() / get.median()));
      out.append("| dedup, ").append(clones).append(" checkpoints of clones of one golden"
          + " snapshot (").append(memMib).append(" MiB, image ").append(image)
          .append(") | bytes |\n| --- | --- |\n")
          .append("| their files (what the archive holds for them) | ")
          .append(Report.mib(dedup.logical())).append(" |\n")
          .append("| stored in the archive (chunks, each once) | ")
          .append(Report.mib(dedup.stored())).append(" |\n")
          .append("| of which per checkpoint after the first (chunks it added) | ")
          .append(Report.mib(dedup.afterFirst())).append(" |\n")
          .append(String.format(Locale.ROOT, "%nDedup ratio (1 - stored / files): %.1f%%;"
              + " %d chunks named, %d stored%n", 100.0 * (1 - (double) dedup.stored()
              / dedup.logical()), dedup.named(), dedup.chunks()));
      System.out.print(out);
      System.out.printf("%nLoad average (1, 5, 15 min) before: %s; after: %s%n", loadBefore,
          Machine.loadAverage());
    }
  }

  private record Dedup(long logical, long stored, long afterFirst, long named, long chunks) {}

  // The agent uploads each checkpoint itself; the figures come from the bucket once all are in.
  private static Dedup dedup(BenchClient agent, S3Client s3, String bucket, int clones,
      int memMib, String image) throws Exception {
    long firstStored = -1;
    for (int i = 1; i <= clones; i++) {
      String id = "bench-clone-" + i;
      AgentCreates.create(agent.stub(), CreateVmRequest.newBuilder().setSpec(VmSpec.newBuilder()
          .setId(id).setCpus(1).setMemMib(memMib).setImage(image)).build());
      agent.exec(id, "true");
      agent.stub().createCheckpoint(CreateCheckpointRequest.newBuilder().setVmId(id)
          .setCheckpointId("ck-clone-" + i).build());
      agent.stub().destroyVm(DestroyVmRequest.newBuilder().setId(id).build());
      int expected = i;
      Poll.until("checkpoint " + i + " in the archive", java.time.Duration.ofMinutes(5),
          java.time.Duration.ofMillis(200),
          () -> list(s3, bucket, "fleet/checkpoints/").size() == expected);
      if (i == 1) {
        firstStored = sum(list(s3, bucket, "fleet/chunks/"));
      }
      progress("clone %d/%d checkpointed and archived", i, clones);
    }
    long logical = 0;
    long named = 0;
    for (S3Object m : list(s3, bucket, "fleet/checkpoints/")) {
      ArchiveManifest am = ArchiveManifest.parseFrom(
          s3.getObjectAsBytes(b -> b.bucket(bucket).key(m.key())).asByteArray());
      for (CheckpointFile f : am.getCheckpoint().getFilesList()) {
        logical += f.getSizeBytes();
      }
      named += am.getFilesList().stream().mapToLong(f -> f.getChunksCount()).sum();
    }
    List<S3Object> chunks = list(s3, bucket, "fleet/chunks/");
    long stored = sum(chunks);
    return new Dedup(logical, stored, (stored - firstStored) / Math.max(1, clones - 1), named,
        chunks.size());
  }

  private static List<S3Object> list(S3Client s3, String bucket, String prefix) {
    return s3.listObjectsV2Paginator(b -> b.bucket(bucket).prefix(prefix)).contents().stream()
        .toList();
  }

  private static long sum(List<S3Object> objects) {
    return objects.stream().mapToLong(S3Object::size).sum();
  }

  private static ChunkedArchive archive(ArchiveSettings settings, CheckpointStore store, Path dir) {
    return ChunkedArchive.open(settings, new CheckpointTransfer(store,
        new MemoryBases(dir.resolve("memory"))), dir.resolve("chunk-cache"), 1L << 34);
  }

  private static double rate(int mib, long startNanos) {
    return mib / ((System.nanoTime() - startNanos) / 1e9);
  }

  private static S3Client client(String bucket, String endpoint, Path credentials) {
    return S3Storage.client(ArchiveSettings.parse("s3://" + bucket + "?endpoint=" + endpoint
        + "&path_style=true", credentials));
  }

  private static void progress(String format, Object... args) {
    System.err.printf("archive-bench: " + format + "%n", args);
  }
}
