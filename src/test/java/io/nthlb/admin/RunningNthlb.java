package io.nthlb.admin;

import io.nthlb.nat.Decision;
import io.nthlb.nat.ListenAddress;
import io.nthlb.nat.NatTable;
import io.nthlb.proxy.ListenerSet;
import io.nthlb.proxy.ProxyOptions;
import io.nthlb.proxy.ProxyServer;
import io.nthlb.proxy.Route;
import io.nthlb.proxy.Router;
import io.nthlb.proxy.Transport;
import io.nthlb.rules.Ruleset;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine;

/**
 * A whole nthlb for tests, in this JVM: the real data plane (ProxyServer), the real nat table and the real
 * admin plane on 127.0.0.1 port 0, started the way {@code run} starts them. The rules "file" is whatever
 * {@link #rules} holds, because reading files is the rules parser's business and is tested there.
 */
final class RunningNthlb implements DataPlane, AutoCloseable {

    final AtomicReference<RulesReader.Result> rules = new AtomicReference<>();
    final PrometheusMetrics metrics = new PrometheusMetrics();
    private final AtomicReference<NatTable> table = new AtomicReference<>();
    private final ProxyServer server;
    private final AdminPlane admin;

    RunningNthlb(Ruleset initial, TableListing listing) throws IOException {
        rules.set(new RulesReader.Result(initial, List.of()));
        NatTable first = NatTable.compile(initial);
        table.set(first);
        server = ProxyServer.start(ProxyOptions.defaults(Transport.resolve(Transport.EPOLL)).withThreads(2),
                new TableRouter(first), new PrometheusRelayObserver(metrics));
        try {
            List<InetSocketAddress> wanted = new ArrayList<>();
            for (ListenAddress address : first.listenAddresses()) {
                wanted.add(address.toSocketAddress());
            }
            server.listen(wanted);
            RunOptions run = new RunOptions();
            new CommandLine(run).parseArgs("--admin", "127.0.0.1:0");
            admin = AdminPlane.start(run.admin, Path.of("test.rules"), file -> rules.get(), this, listing, metrics);
        } catch (IOException | RuntimeException e) {
            server.close();
            throw e;
        }
    }

    AdminClient client() {
        return new AdminClient(admin.adminAddress());
    }

    AdminAddress adminAddress() {
        return admin.adminAddress();
    }

    @Override
    public NatTable table() {
        return table.get();
    }

    @Override
    public void install(NatTable next) {
        table.set(next);
        server.setRouter(new TableRouter(next));
    }

    @Override
    public ListenerSet listeners() {
        return server.listeners();
    }

    @Override
    public int openConnections() {
        return server.openConnections();
    }

    @Override
    public void close() {
        admin.close();
        server.close();
    }

    /** The admin options as {@code run} parses them. */
    @CommandLine.Command(name = "run")
    static final class RunOptions {
        @CommandLine.Mixin
        AdminOptions admin;
    }

    /** Routes by the nat table's decision and credits relayed bytes to it, as {@code run}'s router does. */
    private record TableRouter(NatTable table) implements Router {
        @Override
        public Route route(InetSocketAddress client, InetSocketAddress local) {
            Decision decision = table.decide(client, local);
            return new Route() {
                @Override
                public InetSocketAddress backend() {
                    return decision.destination();
                }

                @Override
                public String label() {
                    return decision.label();
                }

                @Override
                public void bytesRelayed(long bytes) {
                    decision.addBytes(bytes);
                }
            };
        }
    }
}
