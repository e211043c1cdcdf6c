package dev.noid.agent.bench;

import dev.noid.agent.checkpoint.CheckpointStore;
import dev.noid.agent.checkpoint.CheckpointTransfer;
import dev.noid.agent.checkpoint.TestCheckpoints;
import dev.noid.agent.memory.MemoryBases;
import dev.noid.agent.memory.SavedMemory;
import dev.noid.agent.transfer.PeerPulls;
import dev.noid.agent.transfer.TestPeers;
import dev.noid.agent.image.ImageCatalog;
import dev.noid.agent.image.NodeImages;
import dev.noid.agent.image.ImageCache;
import dev.noid.agent.image.ImageSource;
import dev.noid.agent.transfer.ImageOffers;
import dev.noid.agent.transfer.PeerFirstImageSource;
import dev.noid.api.agent.v1.ImagePeer;
import java.time.Clock;
import dev.noid.api.agent.v1.CheckpointInfo;
import dev.noid.common.tls.Certificates;
import dev.noid.common.tls.KeyAndCertificate;
import dev.noid.common.tls.TlsFiles;
import dev.noid.controller.agents.grpc.TransferGrants;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

/**
 * Direct transfer throughput (issue 24) against a raw TLS copy between the same two endpoints,
 * in one run: node-a serves the agent's real peer service (grant check, export, TLS through
 * gRPC's Netty) on loopback, node-b pulls with the agent's real PeerPulls (verify every chunk
 * and file, write to disk); the reference is a plain TLS socket between the same two node
 * certificates copying the same file from disk to disk with 1 MiB buffers. The same bytes also
 * go as a fleet image from node-a's image cache into node-b's (PeerFirstImageSource, sha256
 * checked by the cache). Both ends run in
 * this one process, as both agents share one host's cores in the dev cluster.
 *
 *   TransferBench --work-dir DIR [--size-mib 256] [--rounds 3]
 */
public final class TransferBench {
  private static final int MIB = 1 << 20;

  public static void main(String[] args) throws Exception {
    Map<String, String> opts = BenchArgs.parse(args);
    Path work = Path.of(BenchArgs.required(opts, "work-dir"));
    int sizeMib = Integer.parseInt(opts.getOrDefault("size-mib", "256"));
    int rounds = Integer.parseInt(opts.getOrDefault("rounds", "3"));

    TestPeers peers = new TestPeers(work);
    TlsFiles a = peers.a;
    TlsFiles b = peers.b;
    TransferGrants grants = peers.grants;

    CheckpointStore source = new CheckpointStore(work.resolve("a-checkpoints"));
    Path file = checkpoint(source, sizeMib);
    MemoryBases basesA = new MemoryBases(work.resolve("a-mem"));
    MemoryBases basesB = new MemoryBases(work.resolve("b-mem"));
    CheckpointTransfer from = new CheckpointTransfer(source, basesA);
    CheckpointStore target = new CheckpointStore(work.resolve("b-checkpoints"));
    CheckpointTransfer to = new CheckpointTransfer(target, basesB);
    // The same bytes as a memory base on node-a, for checkpoints that are a small diff over it.
    Path baseCopy = basesA.newFile();
    Files.copy(file, baseCopy, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    String base = basesA.adopt(baseCopy);

    // The same bytes as a fleet image node-a holds (one that boots the node's kernel).
    ImageSource none = (digest, out, progress) -> {
      throw new IllegalStateException("the benchmark takes images from node-a only");
    };
    ImageCache imagesA = new ImageCache(work.resolve("a-images"), none, 1L << 40,
        Clock.systemUTC());
    String digest = "sha256:" + sha256Of(file);
    Files.createDirectories(work.resolve("a-images"));
    Files.copy(file, imagesA.path(digest));
    Files.createFile(work.resolve("a-images").resolve(digest.substring(7) + ".no-kernel"));
    ImageOffers offers = new ImageOffers(Clock.systemUTC());
    ImageCache imagesB = new ImageCache(work.resolve("b-images"),
        new PeerFirstImageSource(offers, peers.channelsOfNodeB(), none), 1L << 40, Clock.systemUTC());

    String address = peers.serveNodeA(from,
        new NodeImages(ImageCatalog.scan(List.of()), imagesA));
    List<Double> first = new ArrayList<>();
    List<Double> again = new ArrayList<>();
    List<Double> background = new ArrayList<>();
    List<Double> image = new ArrayList<>();
    List<Double> raw = new ArrayList<>();
    List<Double> baseCarried = new ArrayList<>();
    List<Double> baseProved = new ArrayList<>();
    try (PeerPulls pulls = new PeerPulls(to, peers.channelsOfNodeB())) {
      imageRate(sizeMib, offers, imagesB, grants, address, digest); // warm-up
      pull(pulls, grants, address, "ck-bench");
      target.delete("ck-bench"); // warm-up: JIT, TLS session, page cache
      rawCopy(a, b, file, work.resolve("raw-copy"), sizeMib); // and the reference's JIT
      for (int round = 1; round <= rounds; round++) {
        // A checkpoint never sent before: its manifest hashes every file first.
        String fresh = "ck-round-" + round;
        TestCheckpoints.make(source, fresh, Map.of());
        Files.copy(file, source.directory(fresh).resolve("vmstate"));
        first.add(rateOf(sizeMib, pulls, grants, address, fresh));
        target.delete(fresh);
        again.add(rateOf(sizeMib, pulls, grants, address, fresh));
        target.delete(fresh);
        // As an agent hashes a checkpoint it has just taken: files and chunks, in the background.
        from.hashNow(fresh);
        background.add(rateOf(sizeMib, pulls, grants, address, fresh));
        target.delete(fresh);
        image.add(imageRate(sizeMib, offers, imagesB, grants, address, digest));
        raw.add(rawCopy(a, b, file, work.resolve("raw-copy"), sizeMib));
        source.delete(fresh);
        // A 1 MiB diff over the base: node-b lacks the base, then holds it (left out, proved).
        String based = "ck-based-" + round;
        byte[] diff = new byte[MIB];
        new SecureRandom().nextBytes(diff);
        TestCheckpoints.make(source, based, Map.of("vmstate", diff));
        new SavedMemory(SavedMemory.FORMAT, base, (long) sizeMib * MIB, sizeMib * 256L, 256, false)
            .write(source.directory(based));
        Files.deleteIfExists(basesB.path(base));
        baseCarried.add(secondsOf(pulls, grants, address, based));
        target.delete(based);
        baseProved.add(secondsOf(pulls, grants, address, based));
        target.delete(based);
        source.delete(based);
        System.err.printf("round %d: first %.1f, again %.1f, background-hashed %.1f, image %.1f,"
            + " raw TLS %.1f MiB/s%n", round, first.getLast(), again.getLast(),
            background.getLast(), image.getLast(), raw.getLast());
      }
    } finally {
      peers.close();
    }
    double r = median(raw);
    Machine machine = Machine.describe("qemu-system-x86_64");
    System.out.printf("%n## transfer-bench (%s, load %s)%n%n", machine.label(), Machine.loadAverage());
    System.out.printf("| %d MiB checkpoint, median of %d | MiB/s | vs raw TLS |%n", sizeMib, rounds);
    System.out.println("|---|---|---|");
    System.out.printf("| direct pull, first transfer of the checkpoint | %.1f | %.2fx |%n",
        median(first), median(first) / r);
    System.out.printf("| direct pull, again (file hashes remembered) | %.1f | %.2fx |%n",
        median(again), median(again) / r);
    System.out.printf("| direct pull, hashed in the background as a new checkpoint is (files and"
        + " chunks) | %.1f | %.2fx |%n", median(background), median(background) / r);
    System.out.printf("| image from node-a (same bytes, into node-b's image cache) | %.1f | %.2fx |%n",
        median(image), median(image) / r);
    System.out.printf("| raw TLS copy, same certificates, disk to disk, fsync | %.1f | 1.00x |%n", r);
    double carried = median(baseCarried);
    System.out.printf("%n| 1 MiB diff over a %d MiB memory base, median of %d | seconds | vs base"
        + " carried |%n", sizeMib, rounds);
    System.out.println("|---|---|---|");
    System.out.printf("| base carried (the target lacks it) | %.3f | 1.00x |%n", carried);
    System.out.printf("| base left out, the source proving it holds it (HMAC of the base on"
        + " each side) | %.3f | %.2fx |%n", median(baseProved), median(baseProved) / carried);
  }

  private static double secondsOf(PeerPulls pulls, TransferGrants grants, String address,
      String id) {
    long t0 = System.nanoTime();
    pull(pulls, grants, address, id);
    return (System.nanoTime() - t0) / 1e9;
  }

  private static String sha256Of(Path file) throws Exception {
    java.security.MessageDigest d = java.security.MessageDigest.getInstance("SHA-256");
    try (InputStream in = Files.newInputStream(file)) {
      byte[] buf = new byte[MIB];
      int n;
      while ((n = in.read(buf)) > 0) {
        d.update(buf, 0, n);
      }
    }
    return java.util.HexFormat.of().formatHex(d.digest());
  }

  // An image node-b lacks, offered from node-a as the controller offers it with a create.
  private static double imageRate(int sizeMib, ImageOffers offers, ImageCache imagesB,
      TransferGrants grants, String address, String digest) throws Exception {
    Files.deleteIfExists(imagesB.path(digest));
    offers.offer(digest, ImagePeer.newBuilder().setNode("node-a").setAddress(address)
        .setGrant(grants.signImage(digest, "node-a", "node-b"))
        .setImageBytes((long) sizeMib << 20).build());
    long t0 = System.nanoTime();
    imagesB.ensure(digest, ImageSource.Progress.NONE);
    return rate(sizeMib, t0);
  }

  private static double rateOf(int sizeMib, PeerPulls pulls, TransferGrants grants,
      String address, String id) {
    long t0 = System.nanoTime();
    pull(pulls, grants, address, id);
    return rate(sizeMib, t0);
  }

  private static void pull(PeerPulls pulls, TransferGrants grants, String address, String id) {
    pulls.pull(id, "node-a", address, grants.sign(id, "node-a", "node-b"));
  }

  // Random bytes: nothing a transfer could skip or compress.
  private static Path checkpoint(CheckpointStore store, int sizeMib) throws Exception {
    byte[] data = new byte[sizeMib * MIB];
    new SecureRandom().nextBytes(data);
    TestCheckpoints.make(store, "ck-bench", Map.of("vmstate", data));
    return store.directory("ck-bench").resolve("vmstate");
  }

  private static double rawCopy(TlsFiles a, TlsFiles b, Path file, Path out, int sizeMib)
      throws Exception {
    SSLServerSocket listener = (SSLServerSocket) context(a).getServerSocketFactory()
        .createServerSocket(0, 1, InetAddress.getLoopbackAddress());
    listener.setNeedClientAuth(true);
    Thread sender = Thread.ofPlatform().start(() -> {
      try (SSLSocket s = (SSLSocket) listener.accept(); InputStream in = Files.newInputStream(file)) {
        OutputStream o = s.getOutputStream();
        byte[] buf = new byte[MIB];
        int n;
        while ((n = in.read(buf)) > 0) {
          o.write(buf, 0, n);
        }
        o.flush();
        s.shutdownOutput();
      } catch (Exception e) {
        throw new RuntimeException(e);
      }
    });
    long t0 = System.nanoTime();
    try (SSLSocket s = (SSLSocket) context(b).getSocketFactory()
        .createSocket(InetAddress.getLoopbackAddress(), listener.getLocalPort());
        InputStream in = s.getInputStream();
        java.nio.channels.FileChannel o = java.nio.channels.FileChannel.open(out,
            java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE)) {
      byte[] buf = new byte[MIB];
      int n;
      while ((n = in.read(buf)) > 0) {
        java.nio.ByteBuffer bb = java.nio.ByteBuffer.wrap(buf, 0, n);
        while (bb.hasRemaining()) {
          o.write(bb);
        }
      }
      o.force(true); // as an import does before it keeps a checkpoint
    }
    double rate = rate(sizeMib, t0);
    sender.join();
    listener.close();
    if (Files.size(out) != (long) sizeMib * MIB) {
      throw new IllegalStateException("raw copy carried " + Files.size(out) + " bytes");
    }
    Files.delete(out);
    return rate;
  }

  private static SSLContext context(TlsFiles tls) throws Exception {
    KeyAndCertificate material = KeyAndCertificate.read(tls.certificate(), tls.key());
    KeyStore keys = KeyStore.getInstance("PKCS12");
    keys.load(null, null);
    keys.setKeyEntry("node", material.key(), new char[0], material.chain().toArray(Certificate[]::new));
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(keys, new char[0]);
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    trust.setCertificateEntry("ca", Certificates.parseAll(Files.readString(tls.trustedCa())).getFirst());
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext context = SSLContext.getInstance("TLSv1.3");
    context.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
    return context;
  }

  private static double rate(int sizeMib, long startNanos) {
    return sizeMib / ((System.nanoTime() - startNanos) / 1e9);
  }

  private static double median(List<Double> xs) {
    List<Double> s = xs.stream().sorted().toList();
    return s.size() % 2 == 1 ? s.get(s.size() / 2) : (s.get(s.size() / 2 - 1) + s.get(s.size() / 2)) / 2;
  }
}
