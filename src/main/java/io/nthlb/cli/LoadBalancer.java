package io.nthlb.cli;

import io.nthlb.nat.ListenAddress;
import io.nthlb.nat.NatTable;
import io.nthlb.proxy.ListenException;
import io.nthlb.proxy.ProxyOptions;
import io.nthlb.proxy.ProxyServer;
import io.nthlb.proxy.RelayObserver;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running nthlb: the data plane listening where a nat table needs it and sending each new connection
 * where the table decides; what {@code run} and {@code demo} start and drain.
 */
public final class LoadBalancer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(LoadBalancer.class);

    private final ProxyServer server;
    private volatile NatTable table;
    private final List<InetSocketAddress> bound;

    private LoadBalancer(ProxyServer server, NatTable table, List<InetSocketAddress> bound) {
        this.server = server;
        this.table = table;
        this.bound = bound;
    }

    /**
     * Starts the event loops and opens a listener for each of the table's listen addresses; on failure
     * nothing is left running.
     *
     * @throws ListenException when an address cannot be listened on; its message says what to do
     */
    public static LoadBalancer start(NatTable table, ProxyOptions options, RelayObserver observer) {
        List<InetSocketAddress> wanted = new ArrayList<>();
        for (ListenAddress a : table.listenAddresses()) {
            wanted.add(a.toSocketAddress());
        }
        ProxyServer server = ProxyServer.start(options, new NatRouter(table), observer);
        try {
            List<InetSocketAddress> bound = server.listen(wanted);
            return new LoadBalancer(server, table, List.copyOf(bound));
        } catch (RuntimeException e) {
            server.close();
            throw e;
        }
    }

    /** Where the listeners are bound, in the table's order (a port 0 resolved to the kernel's choice). */
    public List<InetSocketAddress> listening() {
        return bound;
    }

    /** The data plane, for the admin endpoint's metrics and reload. */
    public ProxyServer server() {
        return server;
    }

    /** The table new connections are decided by. */
    public NatTable table() {
        return table;
    }

    /** Makes {@code next} the table for new connections; open connections keep their backends. */
    public void install(NatTable next) {
        table = next;
        server.setRouter(new NatRouter(next));
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
        log.info("drained{}", cut == 0 ? "" : ", " + cut + " connection(s) reset at the drain timeout");
        return cut;
    }

    @Override
    public void close() {
        server.close();
    }
}
