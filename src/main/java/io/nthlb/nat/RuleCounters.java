package io.nthlb.nat;

import java.util.concurrent.atomic.LongAdder;

/**
 * The {@code pkts} and {@code bytes} counters of one rule (or of a built-in chain's policy), as
 * {@code iptables -nvL} shows them.
 *
 * <p>In the nat table the kernel only sees a connection's first packet, so {@code pkts} counts
 * connections; nthlb credits the relayed payload to {@code bytes} as it flows, so the figure is live.
 * Both are {@link LongAdder}s because every event-loop thread adds to them and none reads them on the
 * decision path.
 */
public final class RuleCounters {

    /** Package-private so that a compiled rule can hold the adder it increments on the decision path. */
    final LongAdder packets = new LongAdder();
    private final LongAdder bytes = new LongAdder();

    /** Connections that matched the rule (or fell off the chain, for a policy). */
    public long packets() {
        return packets.sum();
    }

    /** Payload bytes relayed for those connections, both directions. */
    public long bytes() {
        return bytes.sum();
    }

    void addPacket() {
        packets.increment();
    }

    void addBytes(long n) {
        bytes.add(n);
    }

    @Override
    public String toString() {
        return "[" + packets() + ":" + bytes() + "]";
    }
}
