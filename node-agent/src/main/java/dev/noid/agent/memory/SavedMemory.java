package dev.noid.agent.memory;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.noid.agent.vm.AtomicFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * How a saved state's guest memory is stored, written as {@code memory.json} beside the state:
 * the base memory file (by digest) the state is restored over, and how many of the guest's
 * pages the state itself carries because they differ from the base ({@code base_written}: this
 * save made the base, from a VM that had none). A state without this file
 * holds all of its memory in the stream (the format before bases), and loads as it always has.
 */
public record SavedMemory(
    @JsonProperty("format") int format,
    @JsonProperty("base_sha256") String base,
    @JsonProperty("memory_bytes") long memoryBytes,
    @JsonProperty("pages") long pages,
    @JsonProperty("diff_pages") long diffPages,
    @JsonProperty("base_written") boolean baseWritten) {

  public static final String FILE = "memory.json";
  /** The one format this agent writes and reads; any other is refused, never guessed at. */
  public static final int FORMAT = 2;
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Where a transfer names a base: a path no checkpoint file can have otherwise. */
  public static final String TRANSFER_PREFIX = "memory-base/";

  public static boolean presentIn(Path stateDir) {
    return Files.exists(stateDir.resolve(FILE));
  }

  public static SavedMemory read(Path stateDir) throws IOException {
    SavedMemory m = JSON.readValue(stateDir.resolve(FILE).toFile(), SavedMemory.class);
    if (m.format() != FORMAT) {
      throw new IOException("saved memory format " + m.format() + " in " + stateDir
          + "; this agent reads format " + FORMAT);
    }
    if (!MemoryBases.isDigest(m.base())) {
      throw new IOException("saved memory in " + stateDir + " names no valid base");
    }
    return m;
  }

  public void write(Path stateDir) throws IOException {
    AtomicFiles.write(stateDir.resolve(FILE), JSON.writeValueAsBytes(this));
  }
}
