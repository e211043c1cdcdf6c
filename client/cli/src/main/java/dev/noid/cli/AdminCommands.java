package dev.noid.cli;

import dev.noid.api.v1.AddUserRequest;
import dev.noid.api.v1.CordonNodeRequest;
import dev.noid.api.v1.GetNodeRequest;
import dev.noid.api.v1.ListNodesRequest;
import dev.noid.api.v1.ListUsersRequest;
import dev.noid.api.v1.Node;
import dev.noid.api.v1.RemoveUserRequest;
import dev.noid.api.v1.Role;
import dev.noid.api.v1.RotateTokenRequest;
import dev.noid.api.v1.UncordonNodeRequest;
import dev.noid.api.v1.User;
import dev.noid.api.v1.WhoAmIRequest;
import dev.noid.client.NoidClient;
import dev.noid.client.NoidException;
import java.security.cert.X509Certificate;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** nodes ..., users ..., whoami. */
final class AdminCommands {
  private AdminCommands() {}

  static <T> T rpc(java.util.function.Supplier<T> s) {
    try {
      return s.get();
    } catch (RuntimeException e) {
      if (e instanceof io.grpc.StatusRuntimeException) {
        throw NoidException.from(e);
      }
      throw e;
    }
  }

  @Command(name = "nodes", mixinStandardHelpOptions = true, description = "Fleet nodes.",
      subcommands = {NodesList.class, NodesInfo.class, Cordon.class, Uncordon.class, Drain.class,
          NodesRemove.class, WatchCommands.Nodes.class})
  static final class Nodes {}

  static void printNode(ClientCommand c, Node n) {
    if (c.json()) {
      Output.json(System.out, Views.node(n));
    } else {
      Views.node(n).forEach((k, v) -> System.out.printf("%-24s %s%n", k + ":", v));
    }
  }

  @Calls("NodeService/ListNodes")
  @Command(name = "list", mixinStandardHelpOptions = true, description = "List nodes.")
  static final class NodesList extends ClientCommand {
    @Override
    int run(NoidClient client) {
      List<Node> nodes = rpc(() -> client.nodes().listNodes(ListNodesRequest.getDefaultInstance()).getNodesList());
      if (json()) {
        Output.json(System.out, nodes.stream().map(Views::node).toList());
      } else {
        Output.table(System.out, List.of("NAME", "STATE", "ADDRESS", "CPUS", "MEMORY", "VMS", "ACCEL"),
            nodes.stream().map(Views::nodeRow).toList());
      }
      return 0;
    }
  }

  @Calls("NodeService/GetNode")
  @Command(name = "info", mixinStandardHelpOptions = true, description = "Show a node.")
  static final class NodesInfo extends ClientCommand {
    @Parameters(index = "0") String name;

    @Override
    int run(NoidClient client) {
      printNode(this, rpc(() -> client.nodes().getNode(GetNodeRequest.newBuilder().setName(name).build()).getNode()));
      return 0;
    }
  }

  @Calls("NodeService/CordonNode")
  @Command(name = "cordon", mixinStandardHelpOptions = true, description = "Stop placing new VMs on a node.")
  static final class Cordon extends ClientCommand {
    @Parameters(index = "0") String name;

    @Override
    int run(NoidClient client) {
      rpc(() -> client.nodes().cordonNode(CordonNodeRequest.newBuilder().setName(name).build()));
      System.out.println(name + " cordoned");
      return 0;
    }
  }

  @Calls("NodeService/UncordonNode")
  @Command(name = "uncordon", mixinStandardHelpOptions = true, description = "Allow placing VMs on a node again.")
  static final class Uncordon extends ClientCommand {
    @Parameters(index = "0") String name;

    @Override
    int run(NoidClient client) {
      rpc(() -> client.nodes().uncordonNode(UncordonNodeRequest.newBuilder().setName(name).build()));
      System.out.println(name + " uncordoned");
      return 0;
    }
  }

  @Calls("NodeService/DrainNode")
  @Command(name = "drain", mixinStandardHelpOptions = true,
      description = "Move every VM off a node: live where it can, else by checkpoint.")
  static final class Drain extends ClientCommand {
    @Parameters(index = "0") String name;
    @picocli.CommandLine.Option(names = "--parallel", description = "VMs moved at once (1-16; default 2).")
    int parallel;

    @Override
    int run(NoidClient client) {
      // No deadline: a drain of many VMs outlasts any fixed one, and its end at the deadline
      // would hide the steps still to come. Ctrl-C cancels it (no further move starts).
      var it = rpc(() -> client.nodes().withDeadline(null).drainNode(
          dev.noid.api.v1.DrainNodeRequest.newBuilder().setName(name).setParallelism(parallel)
              .build()));
      java.util.List<String> left = new java.util.ArrayList<>();
      try {
        it.forEachRemaining(r -> {
          if (r.hasProgress()) {
            var p = r.getProgress();
            System.out.println(p.getVm() + ": " + p.getPhase().name().substring("PHASE_".length()).toLowerCase()
                + (p.getTargetNode().isEmpty() ? "" : " -> " + p.getTargetNode())
                + (p.hasReport() ? ": " + (p.getReport().getMethod()
                    == dev.noid.api.v1.MigrationReport.Method.METHOD_LIVE
                    ? "live, " + MigrateCommand.stats(p.getReport())
                    : "by checkpoint (" + p.getReport().getFallbackReason() + ")")
                    : p.getMessage().isEmpty() ? "" : " (" + p.getMessage() + ")"));
          } else if (r.hasSummary()) {
            System.out.println("moved: " + r.getSummary().getMovedCount() + ", failed: " + r.getSummary().getFailedCount());
            left.addAll(r.getSummary().getFailedList().stream().map(p -> p.getVm()).toList());
          }
        });
      } catch (io.grpc.StatusRuntimeException e) {
        throw NoidException.from(e);
      }
      // `drain && poweroff` must not go on with VMs still on the node.
      if (!left.isEmpty()) {
        throw new CliException(CliException.FAILURE, left.size() + " VM" + (left.size() == 1 ? "" : "s")
            + " could not move off " + name + " (" + String.join(", ", left) + "; see above): they"
            + " go on running there");
      }
      return 0;
    }
  }

  @Calls("NodeService/RemoveNode")
  @Command(name = "remove", mixinStandardHelpOptions = true,
      description = "Forget a node that is gone for good; its VMs follow their node-loss policy.")
  static final class NodesRemove extends ClientCommand {
    @Parameters(index = "0") String name;
    @Option(names = {"-y", "--yes"}, description = "Do not ask for confirmation.") boolean yes;

    @Override
    int run(NoidClient client) {
      if (!yes) {
        Session session = Session.current();
        if (!session.stdinTty()) {
          throw new CliException(CliException.USAGE, "removing node " + name + " cannot be undone: "
              + "pass --yes to confirm without a terminal");
        }
        session.requireLocalTerminal();
        if (!Prompt.yes("Remove node " + name + "? Its VMs are restored elsewhere or marked FAILED, "
            + "by their node-loss policy.")) {
          throw new CliException(CliException.REFUSED, "not removed");
        }
      }
      var r = rpc(() -> client.nodes().removeNode(dev.noid.api.v1.RemoveNodeRequest.newBuilder().setName(name).build()));
      if (json()) {
        Output.json(System.out, Output.map("node", name, "removed", true, "vms", r.getVmsList().stream()
            .map(v -> Output.map("vm", v.getVm(), "owner", v.getOwner(), "outcome", outcome(v),
                "node", v.getNode(), "message", v.getMessage())).toList()));
        return 0;
      }
      for (var v : r.getVmsList()) {
        System.out.println(v.getVm() + " (" + v.getOwner() + "): " + outcome(v)
            + (v.getNode().isEmpty() ? "" : " on " + v.getNode())
            + (v.getMessage().isEmpty() ? "" : " (" + v.getMessage() + ")"));
      }
      System.out.println(name + " removed" + (r.getVmsCount() == 0 ? " (it had no VMs)" : ""));
      return 0;
    }

    private static String outcome(dev.noid.api.v1.RemovedNodeVm v) {
      return switch (v.getOutcome()) {
        case NODE_LOSS_OUTCOME_RESTORED -> "restored";
        case NODE_LOSS_OUTCOME_FAILED -> "failed";
        case NODE_LOSS_OUTCOME_REMOVED -> "removed";
        default -> "unknown";
      };
    }
  }

  @Command(name = "users", mixinStandardHelpOptions = true, description = "Users and tokens (admin).",
      subcommands = {UsersAdd.class, UsersRemove.class, UsersRotate.class, UsersList.class,
          QuotaCommands.Set.class})
  static final class Users {}

  @Calls("UserService/AddUser")
  @Command(name = "add", mixinStandardHelpOptions = true, description = "Add a user; prints their token once.")
  static final class UsersAdd extends ClientCommand {
    @Parameters(index = "0") String name;
    @Option(names = "--admin", description = "Give the admin role.") boolean admin;

    @Override
    int run(NoidClient client) {
      var r = rpc(() -> client.users().addUser(AddUserRequest.newBuilder().setName(name)
          .setRole(admin ? Role.ROLE_ADMIN : Role.ROLE_USER).build()));
      String connect = connectLine(r.getToken());
      if (json()) {
        Output.json(System.out, Output.map("user", Views.user(r.getUser()), "token", r.getToken(),
            "connect", connect));
      } else {
        // The token alone on stdout, as scripts read it; the line for a person on stderr.
        System.out.println(r.getToken());
        System.err.println("On " + name + "'s machine, run:");
        System.err.println("  " + connect);
      }
      return 0;
    }

    /** The guide's contract 2: the command that connects another machine as this user. */
    private String connectLine(String token) {
      CliConfig c = config();
      X509Certificate ca = c.caFile != null ? ControllerCertificates.readFirst(java.nio.file.Path.of(c.caFile))
          : ControllerCertificates.topOf(ControllerCertificates.presentedChain(target));
      return "noid auth setup --url " + target + " --token " + token + " --ca-fingerprint "
          + ControllerCertificates.fingerprint(ca);
    }
  }

  @Calls("UserService/RemoveUser")
  @Command(name = "remove", mixinStandardHelpOptions = true, description = "Remove a user with their VMs and checkpoints.")
  static final class UsersRemove extends ClientCommand {
    @Parameters(index = "0") String name;

    @Override
    int run(NoidClient client) {
      rpc(() -> client.users().removeUser(RemoveUserRequest.newBuilder().setName(name).build()));
      System.out.println(name + " removed");
      return 0;
    }
  }

  @Calls("UserService/RotateToken")
  @Command(name = "rotate", mixinStandardHelpOptions = true, description = "Issue a new token; the old one stops working.")
  static final class UsersRotate extends ClientCommand {
    @Parameters(index = "0") String name;

    @Override
    int run(NoidClient client) {
      System.out.println(rpc(() -> client.users().rotateToken(RotateTokenRequest.newBuilder().setName(name).build())).getToken());
      return 0;
    }
  }

  @Calls("UserService/ListUsers")
  @Command(name = "list", mixinStandardHelpOptions = true, description = "List users.")
  static final class UsersList extends ClientCommand {
    @Override
    int run(NoidClient client) {
      List<User> users = rpc(() -> client.users().listUsers(ListUsersRequest.getDefaultInstance()).getUsersList());
      if (json()) {
        Output.json(System.out, users.stream().map(Views::user).toList());
      } else {
        Output.table(System.out, List.of("NAME", "ROLE", "TOKEN", "VMS"), users.stream().map(u -> List.of(
            u.getName(), u.getRole().name().substring(5).toLowerCase(), u.getTokenPrefix() + "...",
            String.valueOf(u.getVmCount()))).toList());
      }
      return 0;
    }
  }

  @Calls("UserService/WhoAmI")
  @Command(name = "whoami", mixinStandardHelpOptions = true, description = "Who the configured token belongs to.")
  static final class WhoAmI extends ClientCommand {
    @Override
    int run(NoidClient client) {
      User u = rpc(() -> client.users().whoAmI(WhoAmIRequest.getDefaultInstance()).getUser());
      if (json()) {
        Output.json(System.out, Views.user(u));
      } else {
        System.out.println(u.getName() + " (" + u.getRole().name().substring(5).toLowerCase() + ")");
      }
      return 0;
    }
  }
}
