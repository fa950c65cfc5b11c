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
 * <p>A decision credits a few rules, and in a large table it waits on memory for each: so {@code pkts} is a
 * field of this small object, moved with an atomic add, and a table allocates its rules' counters one after
 * another in the order a walk meets them, so that those one decision credits share a cache line or two.
 * {@code bytes} is a {@link LongAdder}, as every event-loop thread adds to it once per read batch; it is made at
 * the first byte, so that it does not sit between the counters.
 */
public final class LiveCounters {

    private static final VarHandle PACKETS;
    private static final VarHandle BYTES;

    static {
        try {
            PACKETS = MethodHandles.lookup().findVarHandle(LiveCounters.class, "packets", long.class);
            BYTES = MethodHandles.lookup().findVarHandle(LiveCounters.class, "bytes", LongAdder.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private volatile long packets;
    private volatile LongAdder bytes;

    /** Connections that matched the rule (or fell off the chain, for a policy). */
    public long packets() {
        return packets;
    }

    /** Payload bytes relayed for those connections, both directions. */
    public long bytes() {
        LongAdder b = bytes;
        return b == null ? 0 : b.sum();
    }

    void addPacket() {
        PACKETS.getAndAdd(this, 1L);
    }

    void addBytes(long n) {
        LongAdder b = bytes;
        if (b == null) {
            BYTES.compareAndSet(this, null, new LongAdder());
            b = bytes;
        }
        b.add(n);
    }

    @Override
    public String toString() {
        return "[" + packets() + ":" + bytes() + "]";
    }
}
