package dev.noid.cli;

import dev.noid.api.v1.CreateVmRequest;
import dev.noid.api.v1.Vm;
import dev.noid.client.NoidClient;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** create, destroy, list, info, stop, start, pause, resume, use, current. */
final class VmCommands {
  private VmCommands() {}

  static void print(ClientCommand c, Vm vm) {
    if (c.json()) {
      Output.json(System.out, Views.vm(vm));
    } else {
      String where = vm.getNode().isEmpty() ? "" : " on " + vm.getNode();
      String status = vm.getStatusMessage();
      boolean telling = !status.isEmpty() && !status.equals(Views.state(vm) + where);
      System.out.println(vm.getName() + " " + Views.state(vm) + where + (telling ? " (" + status + ")" : ""));
    }
  }

  @Calls({"VmService/CreateVm", "VmService/CreateVms", "VmService/GetVm", "ImageService/GetImage"})
  @Command(name = "create", mixinStandardHelpOptions = true, description = "Create a VM and wait until it runs.")
  static final class Create extends ClientCommand {
    @Parameters(index = "0", description = "VM name (a-z, 0-9, '-', 1-63 characters).") String name;
    @Option(names = "--cpus", defaultValue = "1", description = "vCPUs (default 1).") int cpus;
    @Option(names = "--mem", defaultValue = "256", description = "Memory, e.g. 512M or 2G; a"
        + " plain number is MiB (default 256).") String mem;
    @Option(names = "--image", description = "Image name (default dev).") String image;
    @Option(names = "--node", description = "Place on this node.") String node;
    @Option(names = "--disk", description = "Root disk size, e.g. 4G or 512M (default: the"
        + " image's); the guest's root filesystem grows to it.") String disk;
    @Option(names = "--label", description = "KEY=VALUE label (repeatable).") Map<String, String> labels = new LinkedHashMap<>();
    @Option(names = "--no-wait", description = "Return once placed, without waiting for it to run.") boolean noWait;
    @Option(names = "--count", defaultValue = "0", description = "Create this many alike, named NAME-0 to "
        + "NAME-(count-1): all placed at once or none (at most 1000).") int count;

    @Override
    int run(NoidClient client) {
      CreateVmRequest.Builder b = CreateVmRequest.newBuilder().setName(name).setCpus(cpus)
          .setMemMib(Sizes.mib("--mem", mem))
          .putAllLabels(labels).setWait(!noWait);
      if (image != null) {
        b.setImage(image);
      }
      if (node != null) {
        b.setNode(node);
      }
      if (disk != null) {
        b.setDiskMib(Sizes.mib("--disk", disk));
      }
      if (count != 0) {
        String creating = "creating " + count + " VMs " + name + "-*";
        java.util.List<Vm> vms = Progress.run(creating, show -> {
          try (PullProgress pulls = PullProgress.start(client, image, null, node, creating, show)) {
            return client.createVms(b.build(), count);
          }
        });
        if (json()) {
          Output.json(System.out, vms.stream().map(Views::vm).toList());
        } else {
          vms.forEach(vm -> print(this, vm));
        }
        return vms.stream().anyMatch(vm -> vm.getState() == dev.noid.api.v1.VmState.VM_STATE_FAILED)
            ? CliException.FAILURE : 0;
      }
      Vm vm = Progress.run("creating " + name, show -> {
        try (PullProgress pulls = PullProgress.start(client, image, name, node, "creating " + name,
            show)) {
          return client.createVm(b.build());
        }
      });
      print(this, vm);
      return vm.getState() == dev.noid.api.v1.VmState.VM_STATE_FAILED ? CliException.FAILURE : 0;
    }
  }

  @Calls({"VmService/DestroyVm"})
  @Command(name = "destroy", mixinStandardHelpOptions = true, description = "Destroy a VM and its files.")
  static final class Destroy extends ClientCommand {
    @Parameters(index = "0", arity = "0..1", description = "VM name (default: current).") String name;

    @Override
    int run(NoidClient client) {
      String vm = vm(name);
      Progress.run("destroying " + vm, () -> {
        client.destroyVm(vm);
        return null;
      });
      if (json()) {
        Output.json(System.out, Output.map("name", vm, "destroyed", true));
      } else {
        System.out.println(vm + " destroyed");
      }
      CliConfig c = CliConfig.loadFile();
      if (vm.equals(c.current)) {
        c.current = null;
        c.save();
      }
      return 0;
    }
  }

  @Calls({"VmService/ListVms"})
  @Command(name = "list", aliases = "ls", mixinStandardHelpOptions = true, description = "List your VMs.")
  static final class ListVms extends ClientCommand {
    @Override
    int run(NoidClient client) {
      var vms = client.listVms();
      if (json()) {
        Output.json(System.out, vms.stream().map(Views::vm).toList());
      } else {
        Output.table(System.out, java.util.List.of("NAME", "STATE", "NODE", "CPUS", "MEM", "IMAGE"),
            vms.stream().map(Views::vmRow).toList());
      }
      return 0;
    }
  }

  @Calls({"VmService/GetVm"})
  @Command(name = "info", mixinStandardHelpOptions = true, description = "Show one VM.")
  static final class Info extends ClientCommand {
    @Parameters(index = "0", arity = "0..1", description = "VM name (default: current).") String name;

    @Override
    int run(NoidClient client) {
      Vm vm = client.getVm(vm(name));
      if (json()) {
        Output.json(System.out, Views.vm(vm));
      } else {
        Views.vm(vm).forEach((k, v) -> System.out.printf("%-14s %s%n", k + ":", v));
      }
      return 0;
    }
  }

  abstract static class Transition extends ClientCommand {
    @Parameters(index = "0", arity = "0..1", description = "VM name (default: current).") String name;

    abstract Vm apply(NoidClient client, String vm);

    @Override
    int run(NoidClient client) {
      print(this, apply(client, vm(name)));
      return 0;
    }
  }

  @Calls({"VmService/StopVm"})
  @Command(name = "stop", mixinStandardHelpOptions = true, description = "Stop a VM (its disk is kept).")
  static final class Stop extends Transition {
    Vm apply(NoidClient c, String vm) {
      return Progress.run("stopping " + vm, () -> c.stopVm(vm));
    }
  }

  @Calls({"VmService/StartVm"})
  @Command(name = "start", mixinStandardHelpOptions = true, description = "Start a stopped VM.")
  static final class Start extends Transition {
    Vm apply(NoidClient c, String vm) {
      return Progress.run("starting " + vm, () -> c.startVm(vm));
    }
  }

  @Calls({"VmService/PauseVm"})
  @Command(name = "pause", mixinStandardHelpOptions = true, description = "Pause a running VM.")
  static final class Pause extends Transition {
    Vm apply(NoidClient c, String vm) {
      return c.pauseVm(vm);
    }
  }

  @Calls({"VmService/ResumeVm"})
  @Command(name = "resume", mixinStandardHelpOptions = true, description = "Resume a paused VM.")
  static final class Resume extends Transition {
    Vm apply(NoidClient c, String vm) {
      return c.resumeVm(vm);
    }
  }

  @Command(name = "use", mixinStandardHelpOptions = true, description = "Make a VM the current one.")
  static final class Use extends ClientCommand {
    @Parameters(index = "0") String name;

    @Override
    int run(NoidClient client) {
      client.getVm(name);
      CliConfig c = CliConfig.loadFile();
      c.current = name;
      c.save();
      System.out.println("current VM: " + name);
      return 0;
    }
  }

  @Command(name = "current", mixinStandardHelpOptions = true, description = "Print the current VM.")
  static final class Current extends ClientCommand {
    @Override
    boolean needsClient() {
      return false;
    }

    @Override
    int run(NoidClient client) {
      String current = CliConfig.load().current;
      if (current == null) {
        throw new CliException(CliException.NOT_FOUND, "no current VM: run 'noid use VM'");
      }
      System.out.println(current);
      return 0;
    }
  }
}
