package dev.noid.controller;

import dev.noid.controller.domain.NoidException;
import dev.noid.controller.store.Store;
import dev.noid.controller.store.UserRow;
import dev.noid.controller.users.LoginLimiter;
import dev.noid.controller.users.UserDirectory;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/**
 * {@code noid-controller users add|remove|rotate|list}: user administration on the controller
 * host, straight on the store (the first admin is made this way). Removing a user whose VMs
 * still run is done over gRPC (UserService/RemoveUser) so the nodes are told.
 */
@Command(name = "users", mixinStandardHelpOptions = true, description = "Manage users and tokens.",
    subcommands = {UsersCommand.Add.class, UsersCommand.Remove.class, UsersCommand.Rotate.class,
        UsersCommand.ListUsers.class})
public final class UsersCommand extends StoreCommand {
  String connectLine(String token) {
    ControllerConfigFile config = config();
    String tlsCa = config.value("tls-ca");
    return ConnectLine.of(config.list("tls-name"), config.intValue("grpc-port", 7655), token,
        tlsCa != null ? Path.of(tlsCa) : dataDir().resolve("tls/ca.pem"));
  }

  UserDirectory directory(Store store) {
    Clock clock = Clock.systemUTC();
    return new UserDirectory(store, new LoginLimiter(10, Duration.ofSeconds(60), clock), clock);
  }

  @Command(name = "add", mixinStandardHelpOptions = true,
      description = "Add a user; prints their token once, and on stderr the 'noid auth setup' line"
          + " that connects another machine as them.")
  static final class Add implements Callable<Integer> {
    @ParentCommand UsersCommand parent;
    @Parameters(index = "0", description = "User name (DNS label).") String name;
    @Option(names = "--role", defaultValue = "user", description = "user or admin.") String role;
    @Option(names = "--token-file", description = "Also write the token to this file (mode 0600).")
    java.nio.file.Path tokenFile;

    @Override
    public Integer call() throws Exception {
      try (Store store = parent.openStore()) {
        UserDirectory.Added added = parent.directory(store).add(name, role);
        if (tokenFile != null) {
          dev.noid.common.tls.Pem.write(tokenFile, added.token() + "\n", true);
        }
        // The connect line goes to stderr, before the token: stdout stays the token alone
        // (scripts take it with $(...)), and the token stays the last line either way.
        System.err.println("Connect another machine as " + name + " (the token is shown only now):");
        System.err.println(parent.connectLine(added.token()));
        System.out.println(added.token());
        return 0;
      } catch (NoidException e) {
        System.err.println("noid-controller: " + e.getMessage());
        return e.code() == NoidException.Code.ALREADY_EXISTS ? 3 : 2;
      }
    }
  }

  @Command(name = "remove", mixinStandardHelpOptions = true, description = "Remove a user who owns no VM or checkpoint (one who does: UserService/RemoveUser).")
  static final class Remove implements Callable<Integer> {
    @ParentCommand UsersCommand parent;
    @Parameters(index = "0") String name;

    @Override
    public Integer call() {
      try (Store store = parent.openStore()) {
        parent.directory(store).remove(name);
        return 0;
      } catch (NoidException e) {
        System.err.println("noid-controller: " + e.getMessage());
        return 4;
      }
    }
  }

  @Command(name = "rotate", mixinStandardHelpOptions = true, description = "Give a user a new token; the old one stops working.")
  static final class Rotate implements Callable<Integer> {
    @ParentCommand UsersCommand parent;
    @Parameters(index = "0") String name;

    @Override
    public Integer call() {
      try (Store store = parent.openStore()) {
        System.out.println(parent.directory(store).rotate(name));
        return 0;
      } catch (NoidException e) {
        System.err.println("noid-controller: " + e.getMessage());
        return 4;
      }
    }
  }

  @Command(name = "list", mixinStandardHelpOptions = true, description = "List users.")
  static final class ListUsers implements Callable<Integer> {
    @ParentCommand UsersCommand parent;

    @Override
    public Integer call() {
      try (Store store = parent.openStore()) {
        System.out.printf("%-24s %-6s %s%n", "NAME", "ROLE", "TOKEN");
        for (UserRow u : parent.directory(store).list()) {
          System.out.printf("%-24s %-6s %s...%n", u.name(), u.role(), u.tokenPrefix());
        }
        return 0;
      }
    }
  }
}
