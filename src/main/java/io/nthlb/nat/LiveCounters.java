package io.nthlb.nat;

import java.util.concurrent.atomic.LongAdder;

/**
 * The live {@code pkts} and {@code bytes} counters of one rule (or of a built-in chain's policy), which
 * decisions and relays move as connections come and bytes flow; {@code iptables -nvL} shows them.
 *
 * <p>In the nat table the kernel only sees a connection's first packet, so {@code pkts} counts
 * connections; nthlb credits the relayed payload to {@code bytes} as it flows, so the figure is live.
 * {@code bytes} is a {@link LongAdder}, because every event-loop thread adds to it.
 *
 * <p>{@code pkts} is counted on the decision path, so it lives in the table: each compiled table has a
 * {@link PacketSlab}, a cell per rule next to the cells of the rules walked with it. A rule that a reload keeps
 * keeps this object, and with it the cells of the tables it was in before: they are summed, so that decisions
 * an old table still makes while or after the new one is compiled count too. Once an old table can no longer
 * decide (it is unreachable), its cell is folded into a constant and the old slab is let go.
 */
public final class LiveCounters {

    /** Where this rule's packets have been counted, newest first; {@code null} for none yet. */
    private volatile Generation generation;
    private final LongAdder bytes = new LongAdder();

    /** One table's cell of the rule, or (with no slab) what the cells of tables now gone added up to. */
    private static final class Generation {
        final PacketSlab slab;
        final int index;
        final long folded;
        final Generation older;

        Generation(PacketSlab slab, int index, long folded, Generation older) {
            this.slab = slab;
            this.index = index;
            this.folded = folded;
            this.older = older;
        }
    }

    /** Connections that matched the rule (or fell off the chain, for a policy). */
    public long packets() {
        long sum = 0;
        for (Generation g = generation; g != null; g = g.older) {
            sum += g.slab == null ? g.folded : g.slab.sum(g.index);
        }
        return sum;
    }

    /** Payload bytes relayed for those connections, both directions. */
    public long bytes() {
        return bytes.sum();
    }

    /**
     * From now on also count in {@code slab}'s cell {@code index}; folds the cells of tables that are gone.
     * Only compiling calls this, and {@link #fold} only the cleaner of a collected table: a lock is cheaper than
     * a compare-and-swap loop in a cold JVM.
     */
    synchronized void attach(PacketSlab slab, int index) {
        generation = new Generation(slab, index, 0, folded(generation));
    }

    /** Folds the cells of tables that are gone; called when one of them has been collected. */
    synchronized void fold() {
        Generation current = generation;
        Generation next = folded(current);
        if (next != current) {
            generation = next;
        }
    }

    /** The generations with those of tables that can no longer count folded into one constant at the end. */
    private static Generation folded(Generation chain) {
        int length = 0;
        int foldable = 0;
        boolean gone = false;
        for (Generation g = chain; g != null; g = g.older) {
            length++;
            if (g.slab == null) {
                foldable++;
            } else if (g.slab.gone()) {
                gone = true;
            }
        }
        if (!gone && foldable <= 1) {
            return chain; // nothing to fold (the common case: no allocation)
        }
        // Each slab is asked once more whether it is gone: the answer only ever changes from no to yes.
        Generation[] keep = new Generation[length];
        int live = 0;
        long constant = 0;
        for (Generation g = chain; g != null; g = g.older) {
            if (g.slab == null) {
                constant += g.folded;
            } else if (g.slab.gone()) {
                constant += g.slab.sum(g.index); // nothing can add to it any more
            } else {
                keep[live++] = g;
            }
        }
        Generation out = new Generation(null, 0, constant, null);
        for (int i = live - 1; i >= 0; i--) {
            out = new Generation(keep[i].slab, keep[i].index, 0, out);
        }
        return out;
    }

    /** How many generations this counter sums (tables that may still count, and one constant): for tests. */
    int generations() {
        int n = 0;
        for (Generation g = generation; g != null; g = g.older) {
            n++;
        }
        return n;
    }

    /** How many tables' slabs this counter still holds (tables that may still count): for tests. */
    int slabs() {
        int n = 0;
        for (Generation g = generation; g != null; g = g.older) {
            if (g.slab != null) {
                n++;
            }
        }
        return n;
    }

    void addBytes(long n) {
        bytes.add(n);
    }

    @Override
    public String toString() {
        return "[" + packets() + ":" + bytes() + "]";
    }
}
