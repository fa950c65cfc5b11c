package io.nthlb.balancer;

import io.nthlb.health.BackendHealth;
import io.nthlb.health.FailoverOptions;
import io.nthlb.nat.NatTable;
import io.nthlb.proxy.Addresses;
import io.nthlb.proxy.ListenException;
import io.nthlb.proxy.ListenerSet;
import io.nthlb.proxy.ProxyOptions;
import io.nthlb.proxy.ProxyServer;
import io.nthlb.proxy.RelayObserver;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running nthlb: the proxy listening where a nat table needs it, each new connection sent where the table
 * decides (past backends that are down, with health checks), and reload, which replaces the table and the listeners together; what {@code run}, {@code demo} and
 * the admin endpoint start, reload and drain.
 *
 * <p>A reload opens the listeners the new table adds, switches new connections to the new table, then closes
 * the listeners it no longer needs, so a connection is never refused where a listener is wanted. Connections
 * already open keep the decision they were made with. A file with errors changes nothing; so does a valid file
 * whose listeners cannot all be opened (an address in use, say): the ones this reload opened are closed again.
 */
public final class LoadBalancer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(LoadBalancer.class);

    private final ProxyServer server;
    private volatile NatTable table;
    private final List<InetSocketAddress> bound;
    private final int retries;
    /** {@code null} without health checks. */
    private final BackendHealth health;

    private LoadBalancer(ProxyServer server, NatTable table, List<InetSocketAddress> bound, int retries,
                         BackendHealth health) {
        this.server = server;
        this.table = table;
        this.bound = bound;
        this.retries = retries;
        this.health = health;
    }

    /** {@link #start(NatTable, ProxyOptions, FailoverOptions, RelayObserver)} as the kernel behaves: no failover. */
    public static LoadBalancer start(NatTable table, ProxyOptions options, RelayObserver observer) {
        return start(table, options, FailoverOptions.NONE, observer);
    }

    /**
     * Starts the event loops (and the health checks, when asked for) and opens a listener for each of the
     * table's listen addresses; on failure nothing is left running.
     *
     * @throws ListenException when an address cannot be listened on; its message says what to do
     */
    public static LoadBalancer start(NatTable table, ProxyOptions options, FailoverOptions failover,
                                     RelayObserver observer) {
        BackendHealth health = failover.checksHealth()
                ? BackendHealth.start(failover, options.connectTimeout(), table.backends()) : null;
        ProxyServer server = ProxyServer.start(options, new NatRouter(table, failover.retries(), health), observer);
        try {
            List<InetSocketAddress> bound = server.listen(CompiledRules.socketAddresses(table));
            return new LoadBalancer(server, table, List.copyOf(bound), failover.retries(), health);
        } catch (RuntimeException e) {
            server.close();
            if (health != null) {
                health.close();
            }
            throw e;
        }
    }

    /** The backends' health, or {@code null} without health checks. */
    public BackendHealth health() {
        return health;
    }

    /** Where the listeners were bound at start, in the table's order (a port 0 resolved to the kernel's choice). */
    public List<InetSocketAddress> listening() {
        return bound;
    }

    /** The proxy underneath, for what only it knows (its transport, its listeners). */
    public ProxyServer server() {
        return server;
    }

    /** The listening sockets now, which a reload changes. */
    public ListenerSet listeners() {
        return server.listeners();
    }

    /** Client connections open now. */
    public int openConnections() {
        return server.openConnections();
    }

    /** The table new connections are decided by. */
    public NatTable table() {
        return table;
    }

    /**
     * Rereads {@code file} and applies it, or leaves everything as it was. Reloads are serialised, whether
     * asked for by SIGHUP or over HTTP. Never throws for anything a user can cause; the outcome says what
     * happened, and is logged.
     */
    public synchronized ReloadOutcome reload(Path file) {
        ReloadOutcome outcome = apply(file);
        switch (outcome.status()) {
            case APPLIED -> log.info("{}", outcome.messages().get(0));
            case REJECTED -> log.warn("reload of {} rejected, the running table stays:\n{}", file,
                    outcome.text().stripTrailing());
            case FAILED -> log.warn("reload of {} not applied, the running table stays: {}", file,
                    outcome.messages().get(0));
        }
        return outcome;
    }

    private ReloadOutcome apply(Path file) {
        CompiledRules compiled;
        try {
            compiled = CompiledRules.of(file, table);
        } catch (RuntimeException e) {
            // A bug in compiling, not in the file: keep serving the old table and say so.
            log.error("compiling {} failed", file, e);
            return ReloadOutcome.failed("compiling " + file + " failed: " + e);
        }
        compiled.warnings().forEach(warning -> log.warn("{}", warning));
        if (!compiled.ok()) {
            return ReloadOutcome.rejected(compiled.errors());
        }
        ListenerSet listeners = server.listeners();
        Set<InetSocketAddress> before = listeners.addresses();
        List<InetSocketAddress> wanted = compiled.listenAddresses();
        // Two reconciles with the switch between them: a new listener must not accept for the old table, and a
        // closing one not for the new. The first only adds, and undoes its own opens when one fails.
        Set<InetSocketAddress> both = new LinkedHashSet<>(before);
        both.addAll(wanted);
        try {
            listeners.reconcile(both);
        } catch (ListenException e) {
            return ReloadOutcome.failed(e.getMessage());
        }
        install(compiled.table());
        listeners.reconcile(wanted);

        StringBuilder summary = new StringBuilder("reloaded ").append(file).append(": ").append(compiled.rules())
                .append(compiled.rules() == 1 ? " rule" : " rules");
        List<InetSocketAddress> opened = new ArrayList<>(wanted);
        opened.removeAll(before);
        if (!opened.isEmpty()) {
            summary.append("; opened ").append(labels(opened));
        }
        List<InetSocketAddress> closed = new ArrayList<>(before);
        closed.removeAll(wanted);
        if (!closed.isEmpty()) {
            summary.append("; closed ").append(labels(closed));
        }
        return ReloadOutcome.applied(summary.toString());
    }

    /** Makes {@code next} the table for new connections; open connections keep their backends. */
    private void install(NatTable next) {
        if (health != null) {
            // Backends that remain keep their state; new ones are checked from the start.
            health.track(next.backends());
        }
        table = next;
        server.setRouter(new NatRouter(next, retries, health));
    }

    private static String labels(List<InetSocketAddress> addresses) {
        List<String> labels = new ArrayList<>();
        addresses.forEach(address -> labels.add(Addresses.format(address)));
        return String.join(" ", labels);
    }

    /**
     * Stops accepting, lets open connections finish for up to {@code timeout}, resets the rest.
     *
     * @return how many connections were reset because the timeout ran out
     */
    public int drain(Duration timeout) {
        int open = server.openConnections();
        log.info("draining: not accepting; waiting up to {} for {} open connection(s)", timeout, open);
        int cut = server.drain(timeout);
        closeHealth();
        log.info("drained{}", cut == 0 ? "" : ", " + cut + " connection(s) reset at the drain timeout");
        return cut;
    }

    @Override
    public void close() {
        server.close();
        closeHealth();
    }

    private void closeHealth() {
        if (health != null) {
            health.close();
        }
    }
}
