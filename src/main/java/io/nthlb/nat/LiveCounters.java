package io.nthlb.nat;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.LongAdder;

/**
 * The live {@code pkts} and {@code bytes} counters of one rule (or of a built-in chain's policy), which
 * decisions and relays move as connections come and bytes flow; {@code iptables -nvL} shows them.
 *
 * <p>In the nat table the kernel only sees a connection's first packet, so {@code pkts} counts
 * connections; nthlb credits the relayed payload to {@code bytes} as it flows, so the figure is live. A rule
 * that a reload keeps keeps this object, so that decisions the old table still makes while or after the new one
 * is compiled count too; it refers to no table, so that an old table is let go like any other garbage.
 *
 * <p>{@code pkts} is a field of this object, moved with an atomic add: a decision credits a few rules, and one
 * load fewer per rule is what a walk through a large table waits on. {@code bytes} is a {@link LongAdder}, as
 * every event-loop thread adds to it once per read batch.
 */
public final class LiveCounters {

    private static final VarHandle PACKETS;

    static {
        try {
            PACKETS = MethodHandles.lookup().findVarHandle(LiveCounters.class, "packets", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private volatile long packets;
    private final LongAdder bytes = new LongAdder();

    /** Connections that matched the rule (or fell off the chain, for a policy). */
    public long packets() {
        return packets;
    }

    /** Payload bytes relayed for those connections, both directions. */
    public long bytes() {
        return bytes.sum();
    }

    void addPacket() {
        PACKETS.getAndAdd(this, 1L);
    }

    void addBytes(long n) {
        bytes.add(n);
    }

    @Override
    public String toString() {
        return "[" + packets() + ":" + bytes() + "]";
    }
}
