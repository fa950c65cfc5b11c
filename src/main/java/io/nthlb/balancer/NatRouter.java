package io.nthlb.balancer;

import io.nthlb.nat.Decision;
import io.nthlb.nat.KernelNetwork;
import io.nthlb.nat.NatTable;
import io.nthlb.proxy.Route;
import io.nthlb.proxy.Router;
import java.net.InetSocketAddress;

/**
 * Routes each new connection the way the nat table decides it, and credits the bytes relayed on it to the
 * rules the decision moved, as they flow.
 */
final class NatRouter implements Router {

    private final NatTable table;

    NatRouter(NatTable table) {
        this.table = table;
    }

    @Override
    public Route route(InetSocketAddress client, InetSocketAddress local) {
        if (!(client.getAddress() instanceof java.net.Inet4Address)
                || !(local.getAddress() instanceof java.net.Inet4Address)) {
            // iptables' nat table is IPv4 only; an IPv6 connection has no rule, as with ip6tables empty.
            return Route.none("not IPv4");
        }
        return new DecisionRoute(table.decide(client, local, KernelNetwork.host()));
    }

    /** A nat decision seen as a route. */
    private record DecisionRoute(Decision decision) implements Route {
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
    }
}
