package dev.noid.agent.cloudhypervisor;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Cloud Hypervisor's REST API (../shared/cloud-hypervisor/openapi.yaml, base path /api/v1) as
 * typed calls. An error answer becomes {@link VmmApiException}; nothing is retried here, since
 * most calls (boot, snapshot, restore) are not idempotent.
 */
public final class VmmApi {
  static final ObjectMapper JSON = new ObjectMapper();
  private static final String BASE = "/api/v1/";

  /** What {@code vmm.ping} says about the VMM. */
  public record Ping(String version, long pid) {}

  /** How a restore loads guest memory: copied up front, or paged in on first touch. */
  public enum MemoryRestoreMode { Copy, OnDemand }

  private final UnixHttpClient http;

  public VmmApi(Path apiSocket, Duration timeout) {
    this.http = new UnixHttpClient(apiSocket, timeout);
  }

  public Ping ping() throws IOException {
    JsonNode n = get("vmm.ping");
    return new Ping(n.path("version").asText(), n.path("pid").asLong());
  }

  public void create(ObjectNode vmConfig) throws IOException {
    put("vm.create", vmConfig);
  }

  public void boot() throws IOException {
    put("vm.boot", null);
  }

  public void pause() throws IOException {
    put("vm.pause", null);
  }

  public void resume() throws IOException {
    put("vm.resume", null);
  }

  /** Needs a paused VM and an existing {@code dir}. */
  public void snapshot(Path dir) throws IOException {
    put("vm.snapshot", JSON.createObjectNode().put("destination_url", fileUrl(dir)));
  }

  /** Needs a VMM without a VM. OnDemand cannot be combined with prefault. */
  public void restore(Path dir, MemoryRestoreMode mode, boolean prefault, boolean resume)
      throws IOException {
    ObjectNode body = JSON.createObjectNode().put("source_url", fileUrl(dir))
        .put("memory_restore_mode", mode.name()).put("resume", resume);
    if (prefault) {
      body.put("prefault", true);
    }
    put("vm.restore", body);
  }

  /**
   * Starts sending the running VM to {@code url} ({@code unix:PATH}); the VMM answers at once and
   * migrates in the background. Past {@code timeoutS} it cancels and keeps the VM.
   */
  public void sendMigration(String url, long downtimeMs, long timeoutS) throws IOException {
    put("vm.send-migration", JSON.createObjectNode().put("destination_url", url)
        .put("downtime_ms", Math.max(1, downtimeMs)).put("timeout_s", Math.max(1, timeoutS))
        .put("timeout_strategy", "Cancel"));
  }

  /** Needs a VMM without a VM; answers once the whole migration is in (or has failed). */
  public void receiveMigration(String url) throws IOException {
    put("vm.receive-migration", JSON.createObjectNode().put("receiver_url", url));
  }

  public void shutdown() throws IOException {
    put("vm.shutdown", null);
  }

  public void delete() throws IOException {
    put("vm.delete", null);
  }

  public void shutdownVmm() throws IOException {
    put("vmm.shutdown", null);
  }

  /** {@code vm.info}: {config, state, memory_actual_size, device_tree}. */
  public JsonNode info() throws IOException {
    return get("vm.info");
  }

  /** The VM's state as the VMM reports it: Created, Running, Paused, Shutdown, BreakPoint. */
  public String state() throws IOException {
    return info().path("state").asText();
  }

  /** {@code vm.counters}: device id to counter name to value. */
  public Map<String, Map<String, Long>> counters() throws IOException {
    Map<String, Map<String, Long>> out = new LinkedHashMap<>();
    get("vm.counters").properties().forEach(device -> {
      Map<String, Long> values = new LinkedHashMap<>();
      device.getValue().properties().forEach(c -> values.put(c.getKey(), c.getValue().asLong()));
      out.put(device.getKey(), values);
    });
    return out;
  }

  static String fileUrl(Path dir) {
    return "file://" + dir.toAbsolutePath();
  }

  private JsonNode get(String call) throws IOException {
    UnixHttpClient.Response r = http.send("GET", BASE + call, null);
    check(call, r);
    return r.body().length == 0 ? JSON.createObjectNode() : JSON.readTree(r.body());
  }

  private void put(String call, JsonNode body) throws IOException {
    check(call, http.send("PUT", BASE + call, body == null ? null : JSON.writeValueAsBytes(body)));
  }

  private static void check(String call, UnixHttpClient.Response r) throws VmmApiException {
    if (r.status() >= 200 && r.status() < 300) {
      return;
    }
    throw new VmmApiException(call, r.status(), errorChain(r.body()));
  }

  // The VMM sends its error chain as a JSON array of strings; anything else is kept as text.
  static List<String> errorChain(byte[] body) {
    List<String> chain = new ArrayList<>();
    if (body.length == 0) {
      return chain;
    }
    try {
      JsonNode n = JSON.readTree(body);
      if (n != null && n.isArray()) {
        n.forEach(e -> chain.add(e.asText()));
        return chain;
      }
    } catch (IOException e) {
      // not JSON: fall through
    }
    chain.add(new String(body, java.nio.charset.StandardCharsets.UTF_8).strip());
    return chain;
  }
}
