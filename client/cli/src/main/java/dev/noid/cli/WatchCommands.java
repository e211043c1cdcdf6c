package dev.noid.cli;

import dev.noid.api.v1.Node;
import dev.noid.api.v1.Vm;
import dev.noid.client.NoidClient;
import dev.noid.client.NoidException;
import dev.noid.client.WatchEvent;
import dev.noid.client.WatchListener;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.function.Function;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** `noid watch` and `noid nodes watch`: one line (or JSON object) per change until Ctrl-C. */
final class WatchCommands {
  private WatchCommands() {}

  @Calls("VmService/WatchVms")
  @Command(name = "watch", mixinStandardHelpOptions = true,
      description = "Print your VMs, then every change to them, until interrupted.")
  static final class Vms extends ClientCommand {
    @Option(names = {"-l", "--label"}, description = "Only VMs with this label (key=value); repeatable.")
    Map<String, String> labels = new LinkedHashMap<>();

    @Option(names = "--since", description = "Resume after this revision instead of starting with a snapshot.")
    long since;

    @Override
    int run(NoidClient client) {
      Printer<Vm> p = new Printer<>(this, vm -> vm.getName() + " " + Views.vm(vm).get("state")
          + (vm.getNode().isEmpty() ? "" : " on " + vm.getNode()), Views::vm);
      return p.await(client.watchVms(labels, since, p));
    }
  }

  @Calls("NodeService/WatchNodes")
  @Command(name = "watch", mixinStandardHelpOptions = true,
      description = "Print the nodes, then every change to them, until interrupted.")
  static final class Nodes extends ClientCommand {
    @Option(names = "--since", description = "Resume after this revision instead of starting with a snapshot.")
    long since;

    @Override
    int run(NoidClient client) {
      Printer<Node> p = new Printer<>(this, n -> n.getName() + " " + Views.node(n).get("state")
          + (n.getCordoned() ? " cordoned" : ""), Views::node);
      return p.await(client.watchNodes(since, p));
    }
  }

  private static final class Printer<T> implements WatchListener<T> {
    private final ClientCommand command;
    private final Function<T, String> line;
    private final Function<T, Map<String, Object>> view;
    private final CompletableFuture<NoidException> end = new CompletableFuture<>();
    private volatile boolean readerGone;
    // Events arrive on gRPC's threads: print to the command's own stream, taken here.
    private final java.io.PrintStream out = Session.current().out();

    Printer(ClientCommand command, Function<T, String> line, Function<T, Map<String, Object>> view) {
      this.command = command;
      this.line = line;
      this.view = view;
    }

    @Override
    public void onEvent(WatchEvent<T> e) {
      if (command.json()) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("type", e.type().name());
        out.put("revision", e.revision());
        if (e.item() != null) {
          out.put("item", view.apply(e.item()));
        }
        Output.jsonLine(this.out, out);
      } else if (e.type() == WatchEvent.Type.SYNCED) {
        this.out.println("-- synced at revision " + e.revision());
      } else {
        this.out.println(e.type() + " " + line.apply(e.item()) + " (revision " + e.revision() + ")");
      }
      this.out.flush();
      // A PrintStream keeps a write error to itself (the JVM ignores SIGPIPE): `noid watch |
      // head -1` run in-process would watch on for good once head has gone.
      if (this.out.checkError()) {
        readerGone = true;
        end.complete(null);
      }
    }

    @Override
    public void onEnd(NoidException error) {
      end.complete(error);
    }

    int await(AutoCloseable watch) {
      try (watch) {
        NoidException error = end.get();
        if (error != null) {
          throw error;
        }
        return readerGone ? CliException.READER_GONE : 0;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return 130;
      } catch (ExecutionException e) {
        throw new IllegalStateException(e.getCause());
      } catch (NoidException e) {
        throw e;
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }
  }
}
