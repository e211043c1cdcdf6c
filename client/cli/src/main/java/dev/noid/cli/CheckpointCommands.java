package dev.noid.cli;

import dev.noid.api.v1.Checkpoint;
import dev.noid.api.v1.Vm;
import dev.noid.client.NoidClient;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** checkpoint, checkpoints, restore, delete-checkpoint. */
final class CheckpointCommands {
  private CheckpointCommands() {}

  @Calls("VmService/CreateCheckpoint")
  @Command(name = "checkpoint", mixinStandardHelpOptions = true,
      description = "Checkpoint a VM: noid checkpoint [VM] [LABEL] [--label TEXT]")
  static final class Create extends ClientCommand {
    @Parameters(arity = "0..2", description = "[VM] [LABEL]") List<String> args = new java.util.ArrayList<>();
    @Option(names = "--label", description = "Label text.") String label;

    @Override
    int run(NoidClient client) {
      if (args.size() == 2 && label != null) {
        throw new CliException(CliException.USAGE, "give the label once: positionally or with --label");
      }
      String vm = vm(args.isEmpty() ? null : args.get(0));
      String text = label != null ? label : args.size() == 2 ? args.get(1) : "";
      Checkpoint c;
      try {
        c = Progress.run("checkpointing " + vm, () -> client.checkpoint(vm, text));
      } catch (dev.noid.client.NoidException e) {
        throw misread(vm, e);
      }
      if (json()) {
        Output.json(System.out, Views.checkpoint(c));
      } else {
        System.out.println("checkpoint " + c.getId() + (text.isEmpty() ? "" : " (" + text + ")")
            + " of " + vm + ": " + Views.human(c.getSizeBytes()) + " in " + c.getDurationMs() + " ms");
      }
      return 0;
    }
  }

  /** Words people try after "checkpoint", which read as a VM name that usually is none. */
  private static final java.util.Map<String, String> SUBCOMMAND_LIKE = java.util.Map.of(
      "delete", "to delete a checkpoint: noid delete-checkpoint ID",
      "rm", "to delete a checkpoint: noid delete-checkpoint ID",
      "remove", "to delete a checkpoint: noid delete-checkpoint ID",
      "list", "to list checkpoints: noid checkpoints [VM]",
      "ls", "to list checkpoints: noid checkpoints [VM]",
      "restore", "to restore one: noid restore [VM] ID|LABEL");

  // "noid checkpoint delete ck-..." said only "VM 'delete' not found".
  private static RuntimeException misread(String vm, dev.noid.client.NoidException e) {
    String hint = SUBCOMMAND_LIKE.get(vm);
    if (hint == null || e.code() != io.grpc.Status.Code.NOT_FOUND) {
      return e;
    }
    return new CliException(CliException.NOT_FOUND, e.getMessage() + " (" + hint + ")");
  }

  @Calls("VmService/ListCheckpoints")
  @Command(name = "checkpoints", mixinStandardHelpOptions = true, description = "List checkpoints.")
  static final class ListCheckpoints extends ClientCommand {
    @Parameters(index = "0", arity = "0..1", description = "VM name (default: all of yours).") String name;

    @Override
    int run(NoidClient client) {
      List<Checkpoint> all = client.checkpoints(name == null ? "" : name);
      if (json()) {
        Output.json(System.out, all.stream().map(Views::checkpoint).toList());
      } else {
        Output.table(System.out, List.of("ID", "VM", "LABEL", "STATE", "NODE", "SIZE", "TOOK", "DURABILITY"),
            all.stream().map(Views::checkpointRow).toList());
      }
      return 0;
    }
  }

  @Calls("VmService/RestoreCheckpoint")
  @Command(name = "restore", mixinStandardHelpOptions = true,
      description = "Restore a checkpoint in place, or --as a new VM: noid restore [VM] ID|LABEL")
  static final class Restore extends ClientCommand {
    @Parameters(arity = "1..2", description = "[VM] CHECKPOINT") List<String> args = new java.util.ArrayList<>();
    @Option(names = "--as", description = "Clone into a new VM of this name.") String as;
    @Option(names = "--node", description = "Target node.") String node;

    @Override
    int run(NoidClient client) {
      String vm = args.size() == 2 ? args.get(0) : (as != null ? "" : vm(null));
      String ref = args.get(args.size() - 1);
      Vm result = Progress.run("restoring " + ref, () -> client.restore(vm, ref, as, node));
      VmCommands.print(this, result);
      return 0;
    }
  }

  @Calls("VmService/DeleteCheckpoint")
  @Command(name = "delete-checkpoint", mixinStandardHelpOptions = true, description = "Delete a checkpoint by id.")
  static final class Delete extends ClientCommand {
    @Parameters(index = "0") String id;

    @Override
    int run(NoidClient client) {
      client.deleteCheckpoint(id);
      System.out.println(id + " deleted");
      return 0;
    }
  }
}
