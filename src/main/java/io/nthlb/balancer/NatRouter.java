package io.nthlb.balancer;

import io.nthlb.health.BackendHealth;
import io.nthlb.health.Failover;
import io.nthlb.health.FailoverOptions;
import io.nthlb.nat.Decision;
import io.nthlb.nat.KernelNetwork;
import io.nthlb.nat.NatTable;
import io.nthlb.proxy.Addresses;
import io.nthlb.proxy.Ending;
import io.nthlb.proxy.Route;
import io.nthlb.proxy.Router;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Routes each new connection the way the nat table decides it, and credits the bytes relayed on it to the
 * rules the decision moved, as they flow. With retries or health checks (both opt-in), a decision that lands
 * on a backend that is down, or whose connect fails, is decided again: see {@link Failover}.
 */
final class NatRouter implements Router {

    private static final Logger log = LoggerFactory.getLogger(NatRouter.class);
    /** At most one "every backend is down" line per this many nanoseconds: it can happen on every connection. */
    private static final long ALL_DOWN_LOG_INTERVAL = TimeUnit.SECONDS.toNanos(10);

    private final NatTable table;
    private final int retries;
    /** {@code null} without health checks. */
    private final BackendHealth health;
    private final AtomicLong allDownLogged = new AtomicLong(System.nanoTime() - ALL_DOWN_LOG_INTERVAL);

    /** Routes as the kernel would: no retries, no health checks. */
    NatRouter(NatTable table) {
        this(table, FailoverOptions.NONE.retries(), null);
    }

    /**
     * @param retries how many more backends a connection may try when connecting fails
     * @param health  the backends' health, or {@code null} for no health checks
     */
    NatRouter(NatTable table, int retries, BackendHealth health) {
        this.table = table;
        this.retries = retries;
        this.health = health;
    }

    /**
     * Routes each new UDP flow the way the table decides it, and credits the flow's bytes to the rules the decision
     * moved. No retries and no health checks: a flow has no connect that could fail.
     */
    static Router udp(NatTable table) {
        return (client, local) -> isIpv4(client, local)
                ? new DecisionRoute(table.decideUdp(client, local, KernelNetwork.host())) : Route.none("not IPv4");
    }

    /** iptables' nat table is IPv4 only; an IPv6 connection has no rule, as with ip6tables empty. */
    private static boolean isIpv4(InetSocketAddress client, InetSocketAddress local) {
        return client.getAddress() instanceof java.net.Inet4Address
                && local.getAddress() instanceof java.net.Inet4Address;
    }

    @Override
    public Route route(InetSocketAddress client, InetSocketAddress local) {
        if (!isIpv4(client, local)) {
            return Route.none("not IPv4");
        }
        if (retries == 0 && health == null) {
            return new DecisionRoute(table.decide(client, local, KernelNetwork.host()));
        }
        return decide(new Walk(NatTable.ipv4(client), client.getPort(), NatTable.ipv4(local), local.getPort()), 0);
    }

    private DecisionRoute decide(Walk walk, int attempt) {
        Decision decision;
        if (health == null) {
            decision = table.decide(walk.clientIp, walk.clientPort, walk.localIp, walk.localPort, KernelNetwork.host());
        } else {
            Failover.Outcome outcome = Failover.decide(table, walk.clientIp, walk.clientPort, walk.localIp,
                    walk.localPort, KernelNetwork.host(), health::isDown);
            decision = outcome.decision();
            if (outcome.allDown()) {
                logAllDown(decision);
            }
        }
        return new DecisionRoute(decision, this, walk, attempt);
    }

    private void logAllDown(Decision decision) {
        long last = allDownLogged.get();
        long now = System.nanoTime();
        if (now - last >= ALL_DOWN_LOG_INTERVAL && allDownLogged.compareAndSet(last, now)) {
            log.warn("every backend a decision could land on is down; connecting to {} ({}) as the kernel would"
                    + " (logged at most every {} s)", Addresses.format(decision.destination()), decision.label(),
                    TimeUnit.NANOSECONDS.toSeconds(ALL_DOWN_LOG_INTERVAL));
        }
    }

    /** The connection's addresses, as the table takes them, for deciding it again. */
    private record Walk(int clientIp, int clientPort, int localIp, int localPort) {
    }

    /**
     * A nat decision seen as a route. With failover ({@code router} not {@code null}), a failed connect tells the
     * health checks and is decided again while retries are left.
     */
    private record DecisionRoute(Decision decision, NatRouter router, Walk walk, int attempt) implements Route {
        DecisionRoute(Decision decision) {
            this(decision, null, null, 0);
        }

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

        @Override
        public Route retry(Ending failure) {
            if (router == null) {
                return null;
            }
            if (router.health != null) {
                router.health.connectFailed(decision.destination(), failure);
            }
            if (attempt >= router.retries) {
                return null;
            }
            DecisionRoute next = router.decide(walk, attempt + 1);
            return next.decision.isNat() ? next : null;
        }
    }
}
