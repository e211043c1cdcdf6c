package dev.noid.cli;

import java.util.List;
import java.util.Optional;
import picocli.AutoComplete;

/**
 * The top-level commands, in the groups `noid --help` shows (as kubectl groups its own). Kept
 * as a table so that a run builds the picocli model of the one command it runs, not of all.
 */
final class CommandTable {
  record Entry(String name, Class<?> type, String... aliases) {}

  record Group(String title, List<Entry> entries) {}

  static final List<Group> GROUPS = List.of(
      new Group("Basic VM commands", List.of(
          new Entry("create", VmCommands.Create.class),
          new Entry("list", VmCommands.ListVms.class, "ls"),
          new Entry("info", VmCommands.Info.class),
          new Entry("exec", ExecCommand.class),
          new Entry("console", ConsoleCommand.class),
          new Entry("stop", VmCommands.Stop.class),
          new Entry("start", VmCommands.Start.class),
          new Entry("pause", VmCommands.Pause.class),
          new Entry("resume", VmCommands.Resume.class),
          new Entry("migrate", MigrateCommand.class),
          new Entry("destroy", VmCommands.Destroy.class),
          new Entry("use", VmCommands.Use.class),
          new Entry("current", VmCommands.Current.class),
          new Entry("watch", WatchCommands.Vms.class))),
      new Group("Checkpoints", List.of(
          new Entry("checkpoint", CheckpointCommands.Create.class),
          new Entry("checkpoints", CheckpointCommands.ListCheckpoints.class),
          new Entry("restore", CheckpointCommands.Restore.class),
          new Entry("delete-checkpoint", CheckpointCommands.Delete.class))),
      new Group("Images", List.of(
          new Entry("images", ImageCommands.Images.class))),
      new Group("Fleet administration", List.of(
          new Entry("nodes", AdminCommands.Nodes.class),
          new Entry("users", AdminCommands.Users.class),
          new Entry("health-probe", HealthProbeCommand.class))),
      new Group("Settings", List.of(
          new Entry("auth", AuthCommands.Auth.class),
          new Entry("whoami", AdminCommands.WhoAmI.class),
          new Entry("quota", QuotaCommands.Show.class),
          new Entry("daemon", DaemonCommand.class),
          new Entry("generate-completion", AutoComplete.GenerateCompletion.class))));

  private CommandTable() {}

  static Optional<Entry> find(String word) {
    for (Group g : GROUPS) {
      for (Entry e : g.entries()) {
        if (e.name().equals(word) || List.of(e.aliases()).contains(word)) {
          return Optional.of(e);
        }
      }
    }
    return Optional.empty();
  }
}
