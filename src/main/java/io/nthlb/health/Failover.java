package io.nthlb.health;

import io.nthlb.nat.Decision;
import io.nthlb.nat.HostNetwork;
import io.nthlb.nat.NatTable;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * How a decision avoids a backend that is down: the connection is decided again, as a new connection, so
 * every counter the walk passes moves again (nth positions included) and the cascade of nth rules lands on the
 * next backend, until it lands on one that is up. A retry after a failed connect is decided the same way.
 *
 * <p>With the seed's rules and backend C down, every connection that rule 2 would send to C is decided again;
 * rule 1 sees it as the next connection and takes it, so every connection goes to B.
 */
public final class Failover {

    /** The most walks one decision makes looking for an up backend, whatever the table's size. */
    static final int MAX_WALKS = 16;

    private Failover() {
    }

    /**
     * Where a decision avoiding down backends lands.
     *
     * @param decision the decision to connect by: one whose backend is up, or, when every walk landed on a down
     *                 backend, the first one
     * @param skipped  the down backends decided past, in order
     * @param allDown  every walk landed on a down backend
     */
    public record Outcome(Decision decision, List<InetSocketAddress> skipped, boolean allDown) {
    }

    /**
     * Decides a new connection from {@code clientIp:clientPort} to {@code localIp:localPort} as
     * {@link NatTable#decide(int, int, int, int)} does, and again while the backend it lands on is
     * {@code down}: at most once per backend of the table (and at most {@value #MAX_WALKS} times), so a
     * cascade of N nth rules tries each of its N backends once. When every backend of the table is down it is
     * not decided again, so the counters move as the kernel's would.
     */
    public static Outcome decide(NatTable table, int clientIp, int clientPort, int localIp, int localPort,
                                 HostNetwork network, Predicate<InetSocketAddress> down) {
        Decision first = table.decide(clientIp, clientPort, localIp, localPort, network);
        if (!first.isNat() || !down.test(first.destination())) {
            return new Outcome(first, List.of(), false);
        }
        List<InetSocketAddress> skipped = new ArrayList<>();
        skipped.add(first.destination());
        List<InetSocketAddress> backends = table.backends();
        if (backends.stream().allMatch(down)) {
            // Walking again would find nothing up and only shift the nth counters: keep the kernel's order.
            return new Outcome(first, skipped, true);
        }
        int walks = Math.min(MAX_WALKS, backends.size());
        for (int i = 1; i < walks; i++) {
            Decision d = table.decide(clientIp, clientPort, localIp, localPort, network);
            if (!d.isNat() || !down.test(d.destination())) {
                return new Outcome(d, skipped, false);
            }
            skipped.add(d.destination());
        }
        return new Outcome(first, skipped, true);
    }
}
