package dev.noid.agent.checkpoint;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.noid.agent.vm.AgentException;
import dev.noid.api.agent.v1.CheckpointChunk;
import dev.noid.api.agent.v1.CheckpointInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Issue 19 fuzzing: a checkpoint import (manifest, then chunks) as another node could send it.
 * Whatever arrives is either imported or refused with a code that says why (invalid, corrupt,
 * exists, disk full), never INTERNAL or another exception, and a refused import leaves
 * nothing behind. CI replays the corpus in
 * src/test/resources/dev/noid/agent/checkpoint/CheckpointImportFuzzTestInputs.
 */
class CheckpointImportFuzzTest {
  private static Path root;
  private static CheckpointStore store;

  @BeforeAll
  static void start() throws IOException {
    root = Files.createTempDirectory("noid-import-fuzz");
    store = new CheckpointStore(root.resolve("checkpoints"));
  }

  @AfterAll
  static void stop() throws IOException {
    try (var walk = Files.walk(root)) {
      walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  @FuzzTest(maxDuration = "3m")
  void anImportFromAnotherNode(FuzzedDataProvider data) throws IOException {
    CheckpointImport imp = new CheckpointTransfer(store, new dev.noid.agent.memory.MemoryBases(store.root().resolveSibling("memory"))).receive();
    try {
      while (data.remainingBytes() > 0) {
        byte[] message = data.consumeBytes(data.consumeInt(0, 8192));
        CheckpointChunk c;
        try {
          c = CheckpointChunk.parseFrom(message);
        } catch (InvalidProtocolBufferException notAMessage) {
          continue; // gRPC refuses it before the import sees it
        }
        imp.accept(c);
      }
      CheckpointInfo imported = imp.finish();
      store.delete(imported.getId());
    } catch (AgentException e) {
      imp.abort();
      if (e.code() == AgentException.Code.INTERNAL) {
        throw new AssertionError("an import answered INTERNAL: " + e.getMessage(), e);
      }
    }
    try (var left = Files.list(store.root())) {
      if (left.findAny().isPresent()) {
        throw new AssertionError("an import left files behind in " + store.root());
      }
    } catch (java.nio.file.NoSuchFileException nothingWritten) {
      // fine
    }
  }
}
