package dev.noid.agent.cloudhypervisor;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

/**
 * The fake VMM's behaviour, per NOTES.md: one VM per process; states Created, Running, Paused,
 * Shutdown; 404 when there is no VM, 400 for a configuration the VMM refuses, 500 with the
 * error chain for everything else including a wrong state; snapshot needs Paused and an
 * existing directory and writes config.json, state.json and memory-ranges (as large as RAM);
 * restore needs a VMM without a VM; the VMM binds the serial and vsock sockets itself.
 */
final class FakeVmm {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** An HTTP answer: 204, 200 with JSON, or an error with the chain as a JSON array. */
  record Answer(int status, byte[] body, boolean exitAfter) {
    static Answer noContent() {
      return new Answer(204, new byte[0], false);
    }

    static Answer json(JsonNode n) {
      try {
        return new Answer(200, JSON.writeValueAsBytes(n), false);
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    }

    static Answer error(int status, String... chain) {
      ArrayNode a = JSON.createArrayNode();
      for (String s : chain) {
        a.add(s);
      }
      try {
        return new Answer(status, JSON.writeValueAsBytes(a), false);
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    }
  }

  private static final class Refused extends Exception {
    final int status;

    Refused(int status, String message) {
      super(message, null, false, false);
      this.status = status;
    }
  }

  private final FakeEvents events;
  private ObjectNode config;
  private String state;
  private String guestHostname = "";
  private FakeGuest guest;
  /** vm.info's answer while a migration is being sent: taken at its start, as the real VMM does. */
  private ObjectNode migratingInfo;

  /** Where every host file the VMM opens for a VM config is appended, one path a line. */
  private final Path openedLog;

  FakeVmm(FakeEvents events, Path openedLog) {
    this.events = events;
    this.openedLog = openedLog;
  }

  /** The log, beside the API socket, of the host files a fake VMM opened (issue 19 H3). */
  static Path openedLog(Path apiSocket) {
    return apiSocket.resolveSibling("fake-ch-opened.log");
  }

  FakeEvents events() {
    return events;
  }

  synchronized Answer handle(String method, String call, byte[] body) {
    try {
      JsonNode json = body.length == 0 ? null : JSON.readTree(body);
      if (migratingInfo != null && method.equals("PUT") && !call.equals("vmm.shutdown")) {
        throw new Refused(500, "VM is migrating: " + call + " refused");
      }
      return switch (method + " " + call) {
        case "GET vmm.ping" -> Answer.json(JSON.createObjectNode().put("version", "v48.0.0")
            .put("build_version", "fake").put("pid", ProcessHandle.current().pid()));
        case "PUT vmm.shutdown" -> {
          stopGuest();
          yield new Answer(204, new byte[0], true);
        }
        case "PUT vm.create" -> create((ObjectNode) json);
        case "PUT vm.boot" -> boot();
        case "PUT vm.pause" -> transition("pause", "Running", "Paused", "pausing", "paused");
        case "PUT vm.resume" -> transition("resume", "Paused", "Running", "resuming", "resumed");
        case "PUT vm.shutdown" -> shutdown();
        case "PUT vm.delete" -> delete();
        case "PUT vm.snapshot" -> snapshot(json);
        case "PUT vm.restore" -> restore(json);
        case "GET vm.info" -> info();
        case "GET vm.counters" -> counters();
        case "PUT vm.send-migration" -> sendMigration(json);
        case "PUT vm.receive-migration" -> receiveMigration(json);
        default -> Answer.error(404, "no such endpoint in this fake: " + method + " " + call);
      };
    } catch (Refused r) {
      return Answer.error(r.status, "Error from API", r.getMessage());
    } catch (IOException e) {
      return Answer.error(500, "Error from API", e.toString());
    }
  }

  private Answer create(ObjectNode c) throws Refused {
    if (config != null) {
      throw new Refused(500, "The VM is already created");
    }
    validate(c);
    open(c);
    config = c;
    state = "Created";
    guestHostname = hostnameFrom(c.path("payload").path("cmdline").asText());
    events.emit("vm", "created");
    return Answer.noContent();
  }

  // What VmConfig::validate refuses beyond the schema (NOTES.md).
  private static void validate(JsonNode c) throws Refused {
    JsonNode payload = c.path("payload");
    if (!payload.has("kernel") && !payload.has("firmware") && !payload.has("igvm")) {
      throw new Refused(400, "Invalid VmConfig: no kernel or firmware specified");
    }
    if (c.path("cpus").path("boot_vcpus").asInt(1) > c.path("cpus").path("max_vcpus").asInt(1)) {
      throw new Refused(400, "Invalid VmConfig: max CPUs lower than boot CPUs");
    }
    if (c.has("memory") && c.path("memory").path("size").asLong() % 4096 != 0) {
      throw new Refused(400, "Invalid VmConfig: memory size is not a multiple of the page size");
    }
    if ("Socket".equals(c.path("console").path("mode").asText())) {
      throw new Refused(400, "Invalid VmConfig: Socket mode is only supported for the serial port");
    }
    if ("Socket".equals(c.path("serial").path("mode").asText()) && !c.path("serial").has("socket")) {
      throw new Refused(400, "Invalid VmConfig: serial mode Socket needs a socket path");
    }
    Set<String> ids = new HashSet<>();
    for (String list : new String[] {"disks", "net"}) {
      for (JsonNode d : c.path(list)) {
        if (d.has("id") && !ids.add(d.path("id").asText())) {
          throw new Refused(400, "Invalid VmConfig: identifier " + d.path("id").asText() + " is not unique");
        }
      }
    }
    for (JsonNode d : c.path("disks")) {
      if (d.has("path") && !Files.exists(Path.of(d.path("path").asText()))) {
        throw new Refused(400, "Invalid VmConfig: disk " + d.path("path").asText() + " does not exist");
      }
      if (d.has("path")) {
        checkDiskFormat(d);
      }
    }
  }

  /**
   * As the real VMM: the format is the config's image_type, else probed; a qcow2 disk that names
   * a backing file opens only with backing_files on, and then the backing file is opened too.
   */
  private static void checkDiskFormat(JsonNode d) throws Refused {
    Path disk = Path.of(d.path("path").asText());
    String backing = Qcow2Header.backingFile(disk);
    boolean qcow2 = Qcow2Header.isQcow2(disk);
    String type = d.path("image_type").asText(qcow2 ? "Qcow2" : "Raw");
    if (type.equals("Qcow2") && !qcow2) {
      throw new Refused(500, "Error booting VM: disk " + disk + " is not a qcow2 image");
    }
    if (type.equals("Qcow2") && backing != null) {
      if (!d.path("backing_files").asBoolean(false)) {
        throw new Refused(500, "Error booting VM: disk " + disk + " has a backing file and"
            + " backing_files is off");
      }
      if (!Files.exists(Path.of(backing))) {
        throw new Refused(500, "Error booting VM: backing file " + backing + " does not exist");
      }
    }
  }

  /**
   * Opens every host file or socket {@code c} names, as the real VMM does when it creates or
   * restores a VM from it (a restore takes the whole config from the snapshot's config.json):
   * refused when one does not exist, and logged, so a test sees what a config gave the VMM.
   */
  private void open(JsonNode c) throws Refused {
    java.util.List<String> paths = new java.util.ArrayList<>();
    JsonNode payload = c.path("payload");
    for (String f : new String[] {"kernel", "initramfs", "firmware", "igvm"}) {
      paths.add(payload.path(f).asText(null));
    }
    paths.add(c.path("rng").path("src").asText(null));
    String[][] lists = {{"disks", "path"}, {"pmem", "file"}, {"fs", "socket"}, {"devices", "path"},
        {"user_devices", "socket"}, {"vdpa", "path"}};
    for (String[] l : lists) {
      for (JsonNode d : c.path(l[0])) {
        paths.add(d.path(l[1]).asText(null));
      }
    }
    for (JsonNode d : c.path("disks")) {
      // checked by then: a backing file is only followed for a Qcow2 disk with backing_files on
      if (d.has("path") && "Qcow2".equals(d.path("image_type").asText(
          Qcow2Header.isQcow2(Path.of(d.path("path").asText())) ? "Qcow2" : "Raw"))) {
        paths.add(Qcow2Header.backingFile(Path.of(d.path("path").asText())));
      }
    }
    for (JsonNode z : c.path("memory").path("zones")) {
      paths.add(z.path("file").asText(null));
    }
    paths.add(c.path("memory").path("file").asText(null));
    paths.add(c.path("tpm").path("socket").asText(null));
    for (String dev : new String[] {"serial", "console"}) {
      paths.add(c.path(dev).path("file").asText(null));
    }
    paths.removeIf(java.util.Objects::isNull);
    for (String p : paths) {
      if (!Files.exists(Path.of(p))) {
        throw new Refused(400, "Invalid VmConfig: " + p + " does not exist");
      }
    }
    try {
      Files.write(openedLog, paths, java.nio.file.StandardOpenOption.CREATE,
          java.nio.file.StandardOpenOption.APPEND);
    } catch (IOException e) {
      throw new Refused(500, "Error opening VM files: " + e);
    }
  }

  private Answer boot() throws Refused, IOException {
    requireVm();
    if (!state.equals("Created") && !state.equals("Shutdown")) {
      throw invalidTransition("Running");
    }
    events.emit("vm", "booting");
    startGuest(500);
    state = "Running";
    events.emit("vm", "booted");
    return Answer.noContent();
  }

  private Answer transition(String action, String from, String to, String ing, String ed)
      throws Refused {
    requireVm();
    if (!state.equals(from)) {
      throw invalidTransition(to);
    }
    events.emit("vm", ing);
    state = to;
    if (guest != null) {
      guest.setPaused(to.equals("Paused"));
    }
    events.emit("vm", ed);
    return Answer.noContent();
  }

  private Answer shutdown() throws Refused {
    requireVm();
    if (!state.equals("Running") && !state.equals("Paused")) {
      throw invalidTransition("Shutdown");
    }
    stopGuest();
    state = "Shutdown";
    events.emit("vm", "shutdown");
    return Answer.noContent();
  }

  private Answer delete() {
    if (config != null) {
      stopGuest();
      config = null;
      state = null;
      events.emit("vm", "deleted");
    }
    return Answer.noContent();
  }

  private Answer snapshot(JsonNode req) throws Refused, IOException {
    requireVm();
    if (state.equals("Running")) {
      throw new Refused(500, "Trying to snapshot while VM is running");
    }
    if (!state.equals("Paused")) {
      throw invalidTransition("Paused");
    }
    Path dir = fileUrl(req.path("destination_url").asText());
    if (!Files.isDirectory(dir)) {
      throw new Refused(500, "Error saving snapshot: directory " + dir + " does not exist");
    }
    events.emit("vm", "snapshotting");
    JSON.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("config.json").toFile(), config);
    ObjectNode st = JSON.createObjectNode();
    st.putObject("guest").put("hostname", guestHostname);
    st.put("vcpus", config.path("cpus").path("boot_vcpus").asInt(1));
    JSON.writeValue(dir.resolve("state.json").toFile(), st);
    try (RandomAccessFile ram = new RandomAccessFile(dir.resolve("memory-ranges").toFile(), "rw")) {
      ram.setLength(memorySize(config)); // sparse: as large as RAM, costs no disk
    }
    events.emit("vm", "snapshotted");
    return Answer.noContent();
  }

  private Answer restore(JsonNode req) throws Refused, IOException {
    if (config != null) {
      throw new Refused(500, "A VM is already created in this VMM: restore needs a fresh VMM");
    }
    boolean prefault = req.path("prefault").asBoolean(false);
    String mode = req.path("memory_restore_mode").asText("Copy");
    if (prefault && mode.equals("OnDemand")) {
      throw new Refused(400, "Invalid RestoreConfig: prefault cannot be used with OnDemand");
    }
    Path dir = fileUrl(req.path("source_url").asText());
    for (String f : new String[] {"config.json", "state.json", "memory-ranges"}) {
      if (!Files.isRegularFile(dir.resolve(f))) {
        throw new Refused(500, "Error restoring VM: cannot read " + dir.resolve(f));
      }
    }
    ObjectNode c = (ObjectNode) JSON.readTree(dir.resolve("config.json").toFile());
    validate(c);
    open(c);
    if (Files.size(dir.resolve("memory-ranges")) != memorySize(c)) {
      throw new Refused(500, "Error restoring VM: memory-ranges does not match the memory size");
    }
    for (Path p : socketPaths(c)) {
      if (FakeCloudHypervisor.exists(p)) {
        throw new Refused(409, "Error restoring VM: socket path " + p + " is in use");
      }
    }
    events.emit("vm", "restoring");
    config = c;
    guestHostname = JSON.readTree(dir.resolve("state.json").toFile()).path("guest")
        .path("hostname").asText();
    startGuest(0);
    boolean resume = req.path("resume").asBoolean(false);
    state = resume ? "Running" : "Paused";
    guest.setPaused(!resume);
    events.emit("vm", "restored");
    if (resume) {
      events.emit("vm", "resumed");
    }
    return Answer.noContent();
  }

  private Answer sendMigration(JsonNode req) throws Refused, IOException {
    if (config == null) {
      throw new Refused(500, "VM is not running");
    }
    if (!state.equals("Running") && !state.equals("Paused")) {
      throw new Refused(500, "VM is not running or paused: " + state);
    }
    if (req.path("local").asBoolean(false)) {
      throw new Refused(500, "Local migration requires shared memory or hugepages enabled");
    }
    Path socket = FakeMigration.unixPath(req.path("destination_url").asText());
    boolean wasRunning = state.equals("Running");
    ObjectNode c = config.deepCopy();
    long memory = memorySize(config);
    String hostname = guestHostname;
    int vcpus = config.path("cpus").path("boot_vcpus").asInt(1);
    migratingInfo = (ObjectNode) JSON.readTree(info().body());
    Thread.ofPlatform().name("migration-worker").start(() -> {
      try {
        FakeMigration.send(socket, c, memory, hostname, vcpus, wasRunning,
            this::pauseForMigration);
        migrated();
      } catch (IOException | RuntimeException e) {
        System.err.println("fake cloud-hypervisor: Migration failed: " + e.getMessage());
        migrationFailed(wasRunning);
      }
    });
    return Answer.noContent();
  }

  private synchronized void pauseForMigration() {
    events.emit("vm", "pausing");
    state = "Paused";
    guest.setPaused(true);
    events.emit("vm", "paused");
  }

  // A late failure may leave the guest paused: resumed if it was running (check_migration).
  private synchronized void migrationFailed(boolean wasRunning) {
    migratingInfo = null;
    if (wasRunning && "Paused".equals(state)) {
      state = "Running";
      guest.setPaused(false);
      events.emit("vm", "resumed");
    }
  }

  // The VM lives on at the destination: shut down here, and the VMM exits.
  private synchronized void migrated() {
    stopGuest();
    events.emit("vm", "shutdown");
    events.emit("vmm", "shutdown");
    System.exit(0);
  }

  private Answer receiveMigration(JsonNode req) throws Refused, IOException {
    if (config != null) {
      throw new Refused(500, "Can't receive a migration when a VM is already created");
    }
    Path socket = FakeMigration.unixPath(req.path("receiver_url").asText());
    if (FakeCloudHypervisor.exists(socket)) {
      throw new Refused(500, "Error binding to UNIX socket " + socket + ": Address in use");
    }
    FakeMigration.Received in;
    try {
      in = FakeMigration.receive(socket, new FakeMigration.Target() {
        @Override
        public void configure(ObjectNode c) throws IOException {
          // Only the memory and the serial console are made now; devices (disks) at State.
          if ("Socket".equals(c.path("serial").path("mode").asText())
              && FakeCloudHypervisor.exists(Path.of(c.path("serial").path("socket").asText()))) {
            throw new IOException("Error creating console devices: serial socket in use");
          }
        }

        @Override
        public void restore(ObjectNode c, String hostname) throws IOException {
          refusedAsIo(() -> {
            validate(c);
            open(c);
            config = c;
            guestHostname = hostname;
            startGuest(0);
          });
          state = "Paused";
          guest.setPaused(true);
          events.emit("vm", "restored");
        }

        @Override
        public void complete(boolean resume) {
          if (resume) {
            state = "Running";
            guest.setPaused(false);
            events.emit("vm", "resumed");
          }
        }
      });
    } catch (IOException e) {
      in = null;
    }
    if (in == null) {
      stopGuest();
      config = null;
      state = null;
      throw new Refused(500, "Migration was aborted");
    }
    return Answer.noContent();
  }

  private interface Step {
    void run() throws Refused, IOException;
  }

  private static void refusedAsIo(Step step) throws IOException {
    try {
      step.run();
    } catch (Refused r) {
      throw new IOException(r.getMessage());
    }
  }

  private Answer info() throws Refused {
    if (migratingInfo != null) {
      return Answer.json(migratingInfo);
    }
    requireVm();
    ObjectNode n = JSON.createObjectNode();
    n.set("config", config);
    n.put("state", state).put("memory_actual_size", memorySize(config));
    return Answer.json(n);
  }

  private Answer counters() throws Refused {
    requireVm();
    if (state.equals("Created")) {
      throw new Refused(500, "VM is not running");
    }
    ObjectNode n = JSON.createObjectNode();
    for (JsonNode d : config.path("disks")) {
      long reads = guest == null ? 0 : guest.commandsRun();
      n.putObject(d.path("id").asText("disk0")).put("read_bytes", reads * 4096)
          .put("write_bytes", 0).put("read_ops", reads).put("write_ops", 0);
    }
    return Answer.json(n);
  }

  private void startGuest(long bootMillis) throws Refused, IOException {
    for (Path p : socketPaths(config)) {
      if (FakeCloudHypervisor.exists(p)) {
        throw new Refused(500, "Error booting VM: socket " + p + " already exists (Address in use)");
      }
    }
    Path serial = "Socket".equals(config.path("serial").path("mode").asText())
        ? Path.of(config.path("serial").path("socket").asText()) : null;
    Path vsock = config.has("vsock") ? Path.of(config.path("vsock").path("socket").asText()) : null;
    guest = FakeGuest.start(serial, vsock, guestHostname, bootMillis, h -> guestHostname = h);
  }

  private void stopGuest() {
    if (guest != null) {
      guest.close();
      guest = null;
    }
  }

  private static Set<Path> socketPaths(JsonNode c) {
    Set<Path> out = new HashSet<>();
    if ("Socket".equals(c.path("serial").path("mode").asText())) {
      out.add(Path.of(c.path("serial").path("socket").asText()));
    }
    if (c.has("vsock")) {
      out.add(Path.of(c.path("vsock").path("socket").asText()));
    }
    return out;
  }

  private void requireVm() throws Refused {
    if (config == null) {
      throw new Refused(404, "VM is not created");
    }
  }

  private Refused invalidTransition(String to) {
    return new Refused(500, "Invalid VM state transition: " + state + " to " + to);
  }

  private static long memorySize(JsonNode c) {
    return c.path("memory").path("size").asLong(512L << 20);
  }

  private static Path fileUrl(String url) throws Refused {
    URI u = URI.create(url);
    if (!"file".equals(u.getScheme())) {
      throw new Refused(500, "Unsupported URL scheme in " + url);
    }
    return Path.of(u.getPath());
  }

  private static String hostnameFrom(String cmdline) {
    for (String w : cmdline.split(" ")) {
      if (w.startsWith("noid.hostname=")) {
        return w.substring("noid.hostname=".length());
      }
    }
    return "localhost";
  }
}
