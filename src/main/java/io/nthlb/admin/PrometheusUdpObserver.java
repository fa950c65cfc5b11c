package io.nthlb.admin;

import io.nthlb.proxy.Addresses;
import io.nthlb.proxy.Connection;
import io.nthlb.proxy.ConnectionObserver;
import io.nthlb.proxy.Direction;
import io.nthlb.proxy.Ending;
import io.nthlb.proxy.RelayObserver;
import io.nthlb.proxy.UdpProxy;
import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;

/**
 * Counts UDP flows into the registry of {@link PrometheusMetrics}, apart from TCP connections (a flow is not a
 * connection: it has no handshake and no end but a timeout): flows by listener, datagram payload by backend,
 * flows an ICMP error ended, and, read at each scrape, the flows open and the datagrams a full table dropped.
 * A backend's series last while the running table can route to it or a flow to it is open.
 */
public final class PrometheusUdpObserver implements RelayObserver {

    private final PrometheusRegistry registry;
    private final Counter flows;
    private final Counter txBytes;
    private final Counter rxBytes;
    private final Counter unreachable;
    private final Map<InetSocketAddress, CounterDataPoint> flowsByListener = new ConcurrentHashMap<>();
    private final BackendSeries<Backend> backends = new BackendSeries<>(Backend::new);

    public PrometheusUdpObserver(PrometheusMetrics metrics) {
        this.registry = metrics.registry();
        this.flows = counter("nthlb_udp_flows_total", "UDP flows started on the listener (each decided once).",
                "listener");
        this.txBytes = counter("nthlb_udp_upstream_tx_bytes_total",
                "UDP payload bytes sent to the backend (received from clients).", "backend");
        this.rxBytes = counter("nthlb_udp_upstream_rx_bytes_total",
                "UDP payload bytes received from the backend (and sent to clients).", "backend");
        this.unreachable = counter("nthlb_udp_upstream_unreachable_total",
                "UDP flows the backend ended with an ICMP error (port unreachable, say).", "backend");
    }

    /** Exposes {@code nthlb_udp_flows_active} and {@code nthlb_udp_flows_dropped_table_full_total}, read at scrapes. */
    public void watch(UdpProxy udp) {
        GaugeWithCallback.builder().name("nthlb_udp_flows_active")
                .help("UDP flows kept now (the flow table's size; --udp-max-flows bounds it).")
                .callback(callback -> callback.call(udp.openFlows()))
                .register(registry);
        CounterWithCallback.builder().name("nthlb_udp_flows_dropped_table_full_total")
                .help("Datagrams dropped because they would have started a UDP flow while the table was full.")
                .callback(callback -> callback.call(udp.droppedTableFull()))
                .register(registry);
        GaugeWithCallback.builder().name("nthlb_udp_listeners")
                .help("UDP addresses listened on now.")
                .callback(callback -> callback.call(udp.listeners().addresses().size()))
                .register(registry);
    }

    @Override
    public ConnectionObserver accepted(Connection flow) {
        flowsByListener.computeIfAbsent(flow.listener(), a -> flows.labelValues(Addresses.format(a))).inc();
        InetSocketAddress backend = flow.route().backend();
        return backend == null ? ConnectionObserver.NONE : backends.hold(backend);
    }

    @Override
    public void routable(Predicate<InetSocketAddress> routable) {
        backends.routable(routable);
    }

    /** How many backends have series now. */
    int backendsWithSeries() {
        return backends.size();
    }

    private Counter counter(String name, String help, String label) {
        return Counter.builder().name(name).help(help).labelNames(label).withoutExemplars().register(registry);
    }

    /**
     * One backend's instruments, resolved once and shared by its flows (they only add to them); each flow holds
     * them from its start to its end.
     */
    private final class Backend extends BackendSeries.Held implements ConnectionObserver {
        private final String label;
        private final CounterDataPoint tx;
        private final CounterDataPoint rx;
        private final CounterDataPoint icmp;

        Backend(InetSocketAddress address) {
            super(address);
            label = Addresses.format(address);
            tx = txBytes.labelValues(label);
            rx = rxBytes.labelValues(label);
            icmp = unreachable.labelValues(label);
        }

        @Override
        public void bytesRelayed(Direction direction, long bytes) {
            (direction == Direction.CLIENT_TO_BACKEND ? tx : rx).inc(bytes);
        }

        @Override
        public void ended(Connection flow) {
            if (flow.ending() == Ending.REFUSED || flow.ending() == Ending.UNREACHABLE) {
                icmp.inc();
            }
            backends.release(this);
        }

        @Override
        void removeSeries() {
            txBytes.remove(label);
            rxBytes.remove(label);
            unreachable.remove(label);
        }
    }
}
