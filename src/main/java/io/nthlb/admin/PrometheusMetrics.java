package io.nthlb.admin;

import io.nthlb.balancer.ReloadOutcome;
import io.nthlb.health.BackendHealth;
import io.nthlb.nat.NatTable;
import io.nthlb.nat.LiveCounters;
import io.nthlb.proxy.Addresses;
import io.nthlb.proxy.ClientLimit;
import io.nthlb.proxy.LocalFailure;
import io.nthlb.rules.Chain;
import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.datapoints.GaugeDataPoint;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntSupplier;
import java.util.function.Predicate;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The Prometheus registry of one running nthlb and the instruments the data path increments, named as
 * Envoy's tcp_proxy names its own ({@code upstream} is the backend side, {@code downstream} the client side).
 *
 * <p>The data path never looks a label up per event: it asks once per connection for the {@link Backend}
 * or {@link Listener} it deals with (one map lookup), keeps it, and increments its pre-resolved children,
 * which are {@code LongAdder}s. A listener's instruments live as long as the process; a backend's as long as
 * the running table can route to it or a connection holds them (see {@link BackendSeries}).
 */
public final class PrometheusMetrics {

    private final PrometheusRegistry registry = new PrometheusRegistry();

    private final Counter upstreamCx = counter("nthlb_upstream_cx_total",
            "Connections nthlb opened (or tried to open) to the backend.", "backend");
    private final Gauge upstreamCxActive = Gauge.builder().name("nthlb_upstream_cx_active")
            .help("Connections to the backend open now.").labelNames("backend").withoutExemplars()
            .register(registry);
    private final Counter upstreamConnectFail = counter("nthlb_upstream_cx_connect_fail_total",
            "Connections to the backend that could not be established (refused, unreachable, timed out).",
            "backend");
    private final Counter upstreamLocalFail = counter("nthlb_upstream_cx_local_fail_total",
            "Connections to the backend that nthlb could not open itself, the backend not at fault, by reason:"
                    + " descriptors (EMFILE, ENFILE), source-ports (EADDRNOTAVAIL), memory (ENOBUFS, ENOMEM).",
            "backend", "reason");
    private final Counter upstreamReset = counter("nthlb_upstream_cx_reset_total",
            "Relayed connections the backend ended with a reset.", "backend");
    private final Counter downstreamReset = counter("nthlb_downstream_cx_reset_total",
            "Relayed connections the client ended with a reset, by the backend they were relayed to.",
            "backend");
    private final Counter upstreamRxBytes = counter("nthlb_upstream_cx_rx_bytes_total",
            "Payload bytes received from the backend (and relayed to the client).", "backend");
    private final Counter upstreamTxBytes = counter("nthlb_upstream_cx_tx_bytes_total",
            "Payload bytes sent to the backend (received from the client).", "backend");
    private final Counter upstreamPaused = counter("nthlb_upstream_flow_control_paused_reading_total",
            "Times nthlb stopped reading from the backend because the client could not take more.", "backend");
    private final Counter downstreamPaused = counter("nthlb_downstream_flow_control_paused_reading_total",
            "Times nthlb stopped reading from the client because the backend could not take more.", "backend");

    private final Counter downstreamCx = counter("nthlb_downstream_cx_total",
            "Connections accepted on the listener.", "listener");
    private final Counter acceptErrors = counter("nthlb_downstream_cx_accept_errors_total",
            "Errors accepting connections on the listener (file descriptors exhausted, for instance).",
            "listener");

    private final Counter limitReached = counter("nthlb_downstream_cx_limit_reached_total",
            "Times the listener stopped accepting because --max-connections connections were open (the clients"
                    + " that came meanwhile waited in the kernel's backlog).", "listener");
    private final Counter clientRefused = counter("nthlb_downstream_cx_client_refused_total",
            "Connections reset on accept by a per-client limit: connections (--max-connections-per-client) or"
                    + " rate (--max-rate-per-client).", "limit");

    private final Counter reloads = counter("nthlb_reloads_total",
            "Reloads of the rules file, by result: applied, rejected (errors in the file), failed.", "result");

    private final BackendSeries<Backend> backends = new BackendSeries<>(Backend::new);
    private final Map<InetSocketAddress, Listener> listeners = new ConcurrentHashMap<>();

    /** A registry with nthlb's instruments; the JVM's join it with {@link #registerJvmMetrics}. */
    public PrometheusMetrics() {
        for (ReloadOutcome.Status status : ReloadOutcome.Status.values()) {
            reloads.initLabelValues(resultLabel(status));
        }
        for (ClientLimit limit : ClientLimit.values()) {
            clientRefused.initLabelValues(limit.label());
        }
    }

    /**
     * Adds the JVM's instruments (memory, GC, threads, process CPU and file descriptors). They load JMX, about
     * 400 classes and a sixth of start-up, so {@code run} registers them only once its listeners are open.
     */
    public PrometheusMetrics registerJvmMetrics() {
        JvmMetrics.builder().register(registry);
        return this;
    }

    public PrometheusRegistry registry() {
        return registry;
    }

    /**
     * The instruments of one backend, for one connection: created on first use, the same object while anyone holds
     * it, and held until the connection calls {@link Backend#release()}.
     */
    public Backend backend(InetSocketAddress backend) {
        return backends.hold(backend);
    }

    /**
     * The running table changed (a reload): the series of the backends it cannot route to go, each once no
     * connection to it is open any more.
     */
    public void routable(Predicate<InetSocketAddress> routable) {
        backends.routable(routable);
    }

    /** How many backends have series now. */
    int backendsWithSeries() {
        return backends.size();
    }

    /** The instruments of one listener, created on first use and the same object ever after. */
    public Listener listener(InetSocketAddress listener) {
        return listeners.computeIfAbsent(listener, address -> new Listener(Addresses.format(address)));
    }

    /**
     * Exposes {@code nthlb_log_lines_dropped_total} by log ({@code access}, {@code normal}), read from the logs'
     * writers at each scrape.
     */
    public void watchDroppedLogLines(LongSupplier access, LongSupplier normal) {
        CounterWithCallback.builder().name("nthlb_log_lines_dropped_total")
                .help("Log lines dropped because the log's output was not taking them (nothing waits for a log):"
                        + " access is the access log, normal the log on standard error.")
                .labelNames("log")
                .callback(callback -> {
                    callback.call(access.getAsLong(), "access");
                    callback.call(normal.getAsLong(), "normal");
                })
                .register(registry);
    }

    /**
     * Exposes {@code nthlb_listeners} and {@code nthlb_downstream_cx_active}, read from the data plane at each
     * scrape.
     */
    public void watchDataPlane(IntSupplier listenAddresses, IntSupplier openConnections) {
        GaugeWithCallback.builder().name("nthlb_listeners")
                .help("Addresses listened on now (one per address and port the rules send traffic to).")
                .callback(callback -> callback.call(listenAddresses.getAsInt()))
                .register(registry);
        GaugeWithCallback.builder().name("nthlb_downstream_cx_active")
                .help("Client connections open now.")
                .callback(callback -> callback.call(openConnections.getAsInt()))
                .register(registry);
    }

    /** Exposes {@code nthlb_downstream_cx_max}: the connection limit in force. */
    public void watchConnectionLimit(IntSupplier maxConnections) {
        GaugeWithCallback.builder().name("nthlb_downstream_cx_max")
                .help("Client connections served at most at once (--max-connections, or derived from the descriptor"
                        + " limit).")
                .callback(callback -> callback.call(maxConnections.getAsInt()))
                .register(registry);
    }

    /** Counts a connection a per-client limit reset on accept. */
    public void clientRefused(String limit) {
        clientRefused.labelValues(limit).inc();
    }

    /**
     * Exposes the running table's own counters: {@code nthlb_rule_connections_total} and
     * {@code nthlb_rule_bytes_total} by chain and rule number, {@code nthlb_chain_policy_connections_total} and
     * {@code ..._bytes_total} by chain. They are read from the table at each scrape, so they cost the data path
     * nothing beyond the counters the table keeps anyway, and always agree with {@code list}.
     */
    public void watchTable(Supplier<NatTable> running) {
        CounterWithCallback.builder().name("nthlb_rule_connections_total")
                .help("Connections that matched the rule (the pkts column of list).")
                .labelNames("chain", "rule")
                .callback(callback -> forEachRule(running.get(),
                        (chain, number, counters) -> callback.call(counters.packets(), chain, number)))
                .register(registry);
        CounterWithCallback.builder().name("nthlb_rule_bytes_total")
                .help("Payload bytes relayed, both directions, on the connections the rule matched (the bytes"
                        + " column of list).")
                .labelNames("chain", "rule")
                .callback(callback -> forEachRule(running.get(),
                        (chain, number, counters) -> callback.call(counters.bytes(), chain, number)))
                .register(registry);
        CounterWithCallback.builder().name("nthlb_chain_policy_connections_total")
                .help("Connections that fell off the end of the built-in chain (its policy's packets).")
                .labelNames("chain")
                .callback(callback -> forEachPolicy(running.get(),
                        (chain, counters) -> callback.call(counters.packets(), chain)))
                .register(registry);
        CounterWithCallback.builder().name("nthlb_chain_policy_bytes_total")
                .help("Payload bytes relayed on the connections that fell off the end of the built-in chain.")
                .labelNames("chain")
                .callback(callback -> forEachPolicy(running.get(),
                        (chain, counters) -> callback.call(counters.bytes(), chain)))
                .register(registry);
    }

    private interface RuleVisitor {
        void rule(String chain, String number, LiveCounters counters);
    }

    private interface PolicyVisitor {
        void policy(String chain, LiveCounters counters);
    }

    private static void forEachRule(NatTable table, RuleVisitor visitor) {
        for (Chain chain : table.ruleset().chains()) {
            for (int i = 0; i < chain.rules().size(); i++) {
                visitor.rule(chain.name(), Integer.toString(i + 1), table.counters(chain.name(), i));
            }
        }
    }

    private static void forEachPolicy(NatTable table, PolicyVisitor visitor) {
        for (Chain chain : table.ruleset().chains()) {
            if (chain.isBuiltIn()) {
                visitor.policy(chain.name(), table.policyCounters(chain.name()));
            }
        }
    }

    /** Exposes {@code nthlb_upstream_up}: 1 for each checked backend that is up, 0 for each that is down. */
    public void watchHealth(BackendHealth health) {
        GaugeWithCallback.builder().name("nthlb_upstream_up")
                .help("Whether the health checks find the backend up (1) or down (0).")
                .labelNames("backend")
                .callback(callback -> {
                    for (BackendHealth.Status s : health.statuses()) {
                        callback.call(s.up() ? 1 : 0, Addresses.format(s.backend()));
                    }
                })
                .register(registry);
    }

    /** Counts a reload by its result. */
    public void reloaded(ReloadOutcome.Status status) {
        reloads.labelValues(resultLabel(status)).inc();
    }

    private static String resultLabel(ReloadOutcome.Status status) {
        return status.name().toLowerCase(java.util.Locale.ROOT);
    }

    private Counter counter(String name, String help, String... labelNames) {
        return Counter.builder().name(name).help(help).labelNames(labelNames).withoutExemplars().register(registry);
    }

    /** The pre-resolved instruments of one backend: what the relay increments for connections to it. */
    public final class Backend extends BackendSeries.Held {
        private final CounterDataPoint cx;
        private final GaugeDataPoint cxActive;
        private final CounterDataPoint connectFail;
        private final CounterDataPoint upstreamResets;
        private final CounterDataPoint downstreamResets;
        private final CounterDataPoint rxBytes;
        private final CounterDataPoint txBytes;
        private final CounterDataPoint upstreamPauses;
        private final CounterDataPoint downstreamPauses;
        private final String label;

        private Backend(InetSocketAddress backend) {
            super(backend);
            this.label = Addresses.format(backend);
            cx = upstreamCx.labelValues(label);
            cxActive = upstreamCxActive.labelValues(label);
            connectFail = upstreamConnectFail.labelValues(label);
            upstreamResets = upstreamReset.labelValues(label);
            downstreamResets = downstreamReset.labelValues(label);
            rxBytes = upstreamRxBytes.labelValues(label);
            txBytes = upstreamTxBytes.labelValues(label);
            upstreamPauses = upstreamPaused.labelValues(label);
            downstreamPauses = downstreamPaused.labelValues(label);
        }

        /** The connection that held these instruments is done with them: it ended, or went to another backend. */
        public void release() {
            backends.release(this);
        }

        @Override
        void removeSeries() {
            for (Counter c : List.of(upstreamCx, upstreamConnectFail, upstreamReset, downstreamReset, upstreamRxBytes,
                    upstreamTxBytes, upstreamPaused, downstreamPaused)) {
                c.remove(label);
            }
            upstreamCxActive.remove(label);
            for (LocalFailure reason : LocalFailure.values()) {
                upstreamLocalFail.remove(label, reason.label());
            }
        }

        /** A connection to the backend is being attempted. */
        public void connecting() {
            cx.inc();
        }

        /** The attempt failed: refused, unreachable or timed out. */
        public void connectFailed() {
            connectFail.inc();
        }

        /** nthlb could not open the connection itself, for {@code reason}; rare, so looked up when it happens. */
        public void localFailure(String reason) {
            upstreamLocalFail.labelValues(label, reason).inc();
        }

        /** The connection is up and relaying. */
        public void opened() {
            cxActive.inc();
        }

        /** A connection that {@link #opened()} has ended, whichever way. */
        public void closed() {
            cxActive.dec();
        }

        public void upstreamReset() {
            upstreamResets.inc();
        }

        public void downstreamReset() {
            downstreamResets.inc();
        }

        /** Bytes read from the backend, to be written to the client. */
        public void receivedFromBackend(long bytes) {
            rxBytes.inc(bytes);
        }

        /** Bytes read from the client, to be written to the backend. */
        public void sentToBackend(long bytes) {
            txBytes.inc(bytes);
        }

        /** Reading from the backend paused because the client's side stopped being writable. */
        public void upstreamReadingPaused() {
            upstreamPauses.inc();
        }

        /** Reading from the client paused because the backend's side stopped being writable. */
        public void downstreamReadingPaused() {
            downstreamPauses.inc();
        }
    }

    /** The pre-resolved instruments of one listening address. */
    public final class Listener {
        private final CounterDataPoint accepted;
        private final CounterDataPoint errors;
        private final CounterDataPoint limitReaches;

        private Listener(String label) {
            accepted = downstreamCx.labelValues(label);
            errors = acceptErrors.labelValues(label);
            limitReaches = limitReached.labelValues(label);
        }

        /** The listener stopped accepting at the connection limit. */
        public void limitReached() {
            limitReaches.inc();
        }

        public void accepted() {
            accepted.inc();
        }

        public void acceptError() {
            errors.inc();
        }
    }
}
