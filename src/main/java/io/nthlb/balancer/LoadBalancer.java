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
import io.nthlb.proxy.UdpOptions;
import io.nthlb.proxy.UdpProxy;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
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
    private final UdpProxy udp;
    private volatile NatTable table;
    private final List<InetSocketAddress> bound;
    private final List<InetSocketAddress> udpBound;
    private final int retries;
    /** {@code null} without health checks. */
    private final BackendHealth health;
    private volatile boolean keepCountersOnReload;
    /** Told after each reload which backends the new table can route to, for their metrics' lifetime. */
    private final RelayObserver observer;
    private final RelayObserver udpObserver;

    private LoadBalancer(ProxyServer server, UdpProxy udp, NatTable table, List<InetSocketAddress> bound,
                         List<InetSocketAddress> udpBound, int retries, BackendHealth health,
                         RelayObserver observer, RelayObserver udpObserver) {
        this.observer = observer;
        this.udpObserver = udpObserver;
        this.server = server;
        this.udp = udp;
        this.table = table;
        this.bound = bound;
        this.udpBound = udpBound;
        this.retries = retries;
        this.health = health;
    }

    /** {@link #start(NatTable, ProxyOptions, FailoverOptions, RelayObserver)} as the kernel behaves: no failover. */
    public static LoadBalancer start(NatTable table, ProxyOptions options, RelayObserver observer) {
        return start(table, options, FailoverOptions.NONE, observer);
    }

    /**
     * {@link #start(NatTable, ProxyOptions, FailoverOptions, UdpOptions, RelayObserver, RelayObserver)} with the
     * kernel's UDP timeouts, and UDP flows heard by nobody.
     */
    public static LoadBalancer start(NatTable table, ProxyOptions options, FailoverOptions failover,
                                     RelayObserver observer) {
        return start(table, options, failover, UdpOptions.defaults(), observer, RelayObserver.NONE);
    }

    /**
     * Starts the event loops (and the health checks, when asked for) and opens a listener for each of the
     * table's TCP and UDP listen addresses; on failure nothing is left running. {@code observer} hears TCP
     * connections, {@code udpObserver} UDP flows.
     *
     * @throws ListenException when an address cannot be listened on; its message says what to do
     */
    public static LoadBalancer start(NatTable table, ProxyOptions options, FailoverOptions failover,
                                     UdpOptions udpOptions, RelayObserver observer, RelayObserver udpObserver) {
        BackendHealth health = failover.checksHealth()
                ? BackendHealth.start(failover, options.connectTimeout(), table.backends()) : null;
        ProxyServer server = ProxyServer.start(options, new NatRouter(table, failover.retries(), health), observer);
        UdpProxy udp = UdpProxy.start(server, udpOptions, NatRouter.udp(table), udpObserver);
        try {
            List<InetSocketAddress> bound = server.listen(CompiledRules.socketAddresses(table));
            List<InetSocketAddress> udpAddresses = CompiledRules.socketAddresses(table.udpListenAddresses());
            udp.listeners().reconcile(udpAddresses);
            List<InetSocketAddress> udpBound = udpAddresses.stream().map(udp.listeners()::boundAddress).toList();
            // Only now do the listeners hold their descriptors (one per event loop and address with SO_REUSEPORT).
            server.divideDescriptors(udp);
            return new LoadBalancer(server, udp, table, List.copyOf(bound), udpBound, failover.retries(), health,
                    observer, udpObserver);
        } catch (RuntimeException e) {
            udp.close();
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

    /** Where the UDP listeners were bound at start, in the table's order, as {@link #listening()}. */
    public List<InetSocketAddress> udpListening() {
        return udpBound;
    }

    /** The UDP side: its listeners and flows. */
    public UdpProxy udp() {
        return udp;
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

    /**
     * Whether a reload lets unchanged rules keep their counters and nth positions (a departure from the kernel,
     * asked for with {@code run --reload-keeps-counters}); by default every rule starts from zero, as
     * {@code iptables-restore} starts them.
     */
    public void keepCountersOnReload(boolean keep) {
        keepCountersOnReload = keep;
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
            compiled = CompiledRules.of(file, table, keepCountersOnReload);
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
        Set<InetSocketAddress> udpBefore = udp.listeners().addresses();
        List<InetSocketAddress> udpWanted = compiled.udpListenAddresses();
        // Two reconciles with the switch between them: a new listener must not accept for the old table, and a
        // closing one not for the new. The first only adds, and undoes its own opens when one fails.
        try {
            listeners.reconcile(union(before, wanted));
        } catch (ListenException e) {
            return ReloadOutcome.failed(e.getMessage());
        }
        try {
            udp.listeners().reconcile(union(udpBefore, udpWanted));
        } catch (ListenException e) {
            listeners.reconcile(before);
            return ReloadOutcome.failed(e.getMessage());
        }
        install(compiled.table());
        listeners.reconcile(wanted);
        // UDP flows of the listeners kept go on with the backends they were given, as conntrack entries outlive
        // the rules that made them.
        udp.listeners().reconcile(udpWanted);

        StringBuilder summary = new StringBuilder("reloaded ").append(file).append(": ").append(compiled.rules())
                .append(compiled.rules() == 1 ? " rule" : " rules");
        List<String> opened = new ArrayList<>(labels("", wanted, before));
        opened.addAll(labels("udp ", udpWanted, udpBefore));
        if (!opened.isEmpty()) {
            summary.append("; opened ").append(String.join(" ", opened));
        }
        List<String> closed = new ArrayList<>(labels("", before, wanted));
        closed.addAll(labels("udp ", udpBefore, udpWanted));
        if (!closed.isEmpty()) {
            summary.append("; closed ").append(String.join(" ", closed));
        }
        return ReloadOutcome.applied(summary.toString());
    }

    private static Set<InetSocketAddress> union(Set<InetSocketAddress> before, List<InetSocketAddress> wanted) {
        Set<InetSocketAddress> both = new LinkedHashSet<>(before);
        both.addAll(wanted);
        return both;
    }

    /** Makes {@code next} the table for new connections; open connections keep their backends. */
    private void install(NatTable next) {
        if (health != null) {
            // Backends that remain keep their state; new ones are checked from the start.
            health.track(next.backends());
        }
        table = next;
        server.setRouter(new NatRouter(next, retries, health));
        udp.setRouter(NatRouter.udp(next));
        // After the switch: a connection the old table still decided holds its backend's series by now, or takes
        // them later and lets them go when it ends; either way none is left behind.
        observer.routable(next::reaches);
        udpObserver.routable(next::reachesUdp);
    }

    /** The addresses of {@code these} not in {@code but}, each as {@code prefix} and the address. */
    private static List<String> labels(String prefix, Collection<InetSocketAddress> these,
                                       Collection<InetSocketAddress> but) {
        List<String> labels = new ArrayList<>();
        for (InetSocketAddress address : these) {
            if (!but.contains(address)) {
                labels.add(prefix + Addresses.format(address));
            }
        }
        return labels;
    }

    /**
     * Stops accepting, lets open connections finish for up to {@code timeout}, resets the rest.
     *
     * @return how many connections were reset because the timeout ran out
     */
    public int drain(Duration timeout) {
        int open = server.openConnections();
        log.info("draining: not accepting; waiting up to {} for {} open connection(s)", timeout, open);
        // A UDP flow has no end to wait for: its listeners and flows stop at once.
        udp.close();
        int cut = server.drain(timeout);
        closeHealth();
        log.info("drained{}", cut == 0 ? "" : ", " + cut + " connection(s) reset at the drain timeout");
        return cut;
    }

    @Override
    public void close() {
        udp.close();
        server.close();
        closeHealth();
    }

    private void closeHealth() {
        if (health != null) {
            health.close();
        }
    }
}
