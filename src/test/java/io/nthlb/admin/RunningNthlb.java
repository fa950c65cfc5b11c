package io.nthlb.admin;

import io.nthlb.cli.NatRouter;

import io.nthlb.nat.ListenAddress;
import io.nthlb.nat.NatTable;
import io.nthlb.proxy.ListenerSet;
import io.nthlb.proxy.ProxyOptions;
import io.nthlb.proxy.ProxyServer;
import io.nthlb.proxy.Transport;
import io.nthlb.rules.LoadResult;
import io.nthlb.rules.RulesFile;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine;

/**
 * A whole nthlb for tests, in this JVM: a real rules file, the real nat table, the real data plane
 * (ProxyServer) and the real admin plane on 127.0.0.1 port 0, started the way {@code run} starts them.
 */
final class RunningNthlb implements AutoCloseable {

    final Path file;
    final PrometheusMetrics metrics = new PrometheusMetrics();
    private final AtomicReference<NatTable> table = new AtomicReference<>();
    private final ProxyServer server;
    private final AdminPlane admin;

    /** Writes {@code rules} to {@code dir/test.rules} and runs it. */
    RunningNthlb(Path dir, String rules) throws IOException {
        file = dir.resolve("test.rules");
        rewrite(rules);
        LoadResult loaded = RulesFile.load(file);
        if (!loaded.ok()) {
            throw new IllegalArgumentException("bad test rules: " + loaded.errors());
        }
        NatTable first = NatTable.compile(loaded.ruleset());
        table.set(first);
        server = ProxyServer.start(ProxyOptions.defaults(Transport.resolve(Transport.EPOLL)).withThreads(2),
                new NatRouter(first), new PrometheusRelayObserver(metrics));
        try {
            List<InetSocketAddress> wanted = new ArrayList<>();
            for (ListenAddress address : first.listenAddresses()) {
                wanted.add(address.toSocketAddress());
            }
            server.listen(wanted);
            RunOptions run = new RunOptions();
            new CommandLine(run).parseArgs("--admin", "127.0.0.1:0");
            admin = AdminPlane.start(run.admin, file, DataPlane.of(server, table::get, next -> {
                table.set(next);
                server.setRouter(new NatRouter(next));
            }), metrics);
        } catch (IOException | RuntimeException e) {
            server.close();
            throw e;
        }
    }

    /** Replaces the rules file's text; nothing happens until a reload. */
    void rewrite(String rules) throws IOException {
        Files.writeString(file, rules);
    }

    AdminClient client() {
        return new AdminClient(admin.adminAddress());
    }

    AdminAddress adminAddress() {
        return admin.adminAddress();
    }

    /** The table new connections are decided by now. */
    NatTable table() {
        return table.get();
    }

    ListenerSet listeners() {
        return server.listeners();
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
}
