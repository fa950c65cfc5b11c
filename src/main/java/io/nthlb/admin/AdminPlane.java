package io.nthlb.admin;

import io.nthlb.nat.ListenAddress;
import io.nthlb.nat.NatTable;
import io.nthlb.proxy.ListenerSet;
import io.nthlb.rules.LoadResult;
import io.nthlb.rules.RuleError;
import io.nthlb.rules.RulesFile;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin side of a running nthlb, started and stopped as one: reload on SIGHUP and over HTTP, the admin
 * endpoint (unless {@code --admin off}), and the metrics that read the table and the data plane.
 *
 * <p>{@code run} calls {@link #start} once its listeners are open and closes it before draining.
 */
public final class AdminPlane implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(AdminPlane.class);

    private final Reloader<NatTable> reloader;
    private final SighupReload sighup;
    private final AdminServer server;

    private AdminPlane(Reloader<NatTable> reloader, SighupReload sighup, AdminServer server) {
        this.reloader = reloader;
        this.sighup = sighup;
        this.server = server;
    }

    /**
     * Starts everything.
     *
     * @param metrics the registry the data plane's observer already counts into
     * @throws IOException when the admin address cannot be bound
     */
    public static AdminPlane start(AdminOptions options, Path rulesFile, DataPlane dataPlane,
                                   PrometheusMetrics metrics) throws IOException {
        ListenerSet listenerSet = dataPlane.listeners();
        metrics.watchTable(dataPlane::table);
        metrics.watchDataPlane(() -> listenerSet.addresses().size(), dataPlane::openConnections);
        Reloader<NatTable> reloader = new Reloader<>(rulesFile.toString(),
                running -> compile(rulesFile, running), dataPlane::table, dataPlane::install,
                new Reloader.Listeners() {
                    @Override
                    public Set<InetSocketAddress> addresses() {
                        return listenerSet.addresses();
                    }

                    @Override
                    public void open(InetSocketAddress address) {
                        listenerSet.open(address);
                    }

                    @Override
                    public void close(InetSocketAddress address) {
                        listenerSet.close(address);
                    }
                }, metrics::reloaded);
        String version = AdminPlane.class.getPackage().getImplementationVersion();
        TableListing listing = new NatTableListing(dataPlane::table,
                "nthlb " + (version == null ? "(development build)" : version));
        AdminServer server = options.start(listing, reloader, metrics.registry());
        SighupReload sighup;
        try {
            sighup = SighupReload.install(reloader);
        } catch (RuntimeException e) {
            if (server != null) {
                server.close();
            }
            throw e;
        }
        return new AdminPlane(reloader, sighup, server);
    }

    /**
     * Reads and compiles the file against the running table, refusing what {@code run} refuses at start-up:
     * errors in the file, jumps that cannot be compiled, rule paths no listener can serve, and a table with
     * nothing to listen on.
     */
    static Reloader.Compiled<NatTable> compile(Path file, NatTable running) {
        LoadResult read = RulesFile.load(file);
        if (!read.ok()) {
            return Reloader.Compiled.rejected(messages(read.errors()));
        }
        read.warnings().forEach(warning -> log.warn("{}", warning));
        NatTable table;
        try {
            table = NatTable.compile(read.ruleset(), running);
        } catch (IllegalArgumentException e) {
            // NatTable names the rule (FILE:LINE: ...) that jumps nowhere or loops.
            return Reloader.Compiled.rejected(List.of(e.getMessage()));
        }
        if (!table.listenErrors().isEmpty()) {
            return Reloader.Compiled.rejected(messages(table.listenErrors()));
        }
        if (table.listenAddresses().isEmpty()) {
            return Reloader.Compiled.rejected(List.of(file + ": no PREROUTING rule DNATs or REDIRECTs TCP traffic,"
                    + " so there would be nothing to listen on"));
        }
        Set<InetSocketAddress> addresses = new LinkedHashSet<>();
        for (ListenAddress address : table.listenAddresses()) {
            addresses.add(address.toSocketAddress());
        }
        int rules = read.ruleset().ruleCount();
        return Reloader.Compiled.of(table, addresses, rules + (rules == 1 ? " rule" : " rules"));
    }

    private static List<String> messages(List<RuleError> errors) {
        List<String> messages = new ArrayList<>();
        errors.forEach(error -> messages.add(error.toString()));
        return messages;
    }

    /** The reload that SIGHUP and {@code POST /reload} run. */
    public ReloadAction reloader() {
        return reloader;
    }

    /** Where the admin endpoint listens, or {@code null} for {@code --admin off}. */
    public AdminAddress adminAddress() {
        return server == null ? null : server.address();
    }

    /** Stops the endpoint and puts the previous SIGHUP handler back; the data plane is not touched. */
    @Override
    public void close() {
        sighup.close();
        if (server != null) {
            server.close();
        }
    }
}
