package io.nthlb.nat;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.WeakReference;

/**
 * The packet counters of one compiled table: a cell per record of its {@link FlatProgram} (and one for the
 * PREROUTING policy), so that the counters of the rules one decision credits share a cache line or two.
 *
 * <p>Cells are striped like a {@link java.util.concurrent.atomic.LongAdder}'s: each thread adds to the cells of
 * its own stripe (with a compare-and-swap, so two threads that share a stripe stay exact, and the one that
 * loses moves to the next stripe), and a counter is the sum over the stripes. A stripe is allocated when a
 * thread first needs it, padded so that two stripes never share a cache line.
 */
final class PacketSlab {

    /** Stripes: enough for one per core, at most 16. */
    static final int STRIPES = Math.min(16,
            Integer.highestOneBit(Math.max(1, Runtime.getRuntime().availableProcessors()) * 2 - 1));
    /** Longs before and after the cells of a stripe: 128 bytes, two cache lines. */
    static final int PAD = 16;

    private static final VarHandle CELL = MethodHandles.arrayElementVarHandle(long[].class);
    private static final VarHandle STRIPE = MethodHandles.arrayElementVarHandle(long[][].class);

    private final long[][] stripes = new long[STRIPES][];
    /** Cells per stripe: set once by {@link #size}, before the slab is shared. */
    private int size;
    /** The program that counts here; once it is unreachable nothing can add to this slab. */
    private WeakReference<Object> owner;

    /** Sets the number of cells, once the program's records are laid out; before the slab is shared. */
    void size(int cells) {
        this.size = cells;
        stripes[0] = new long[PAD + cells + PAD];
    }

    /** Set once, before the slab is shared. */
    void own(Object program) {
        owner = new WeakReference<>(program);
    }

    /** Whether the owning program is gone, so that the cells no longer move. */
    boolean gone() {
        WeakReference<Object> o = owner;
        return o != null && o.get() == null;
    }

    /** The cells of stripe {@code s}, made on first use: cell {@code i} is at {@code PAD + i}. */
    long[] stripe(int s) {
        long[] cells = stripes[s];
        if (cells == null) {
            cells = new long[PAD + size + PAD];
            if (!STRIPE.compareAndSet(stripes, s, null, cells)) {
                cells = (long[]) STRIPE.getVolatile(stripes, s);
            }
        }
        return cells;
    }

    /** Cell {@code i} summed over the stripes. */
    long sum(int i) {
        long sum = 0;
        for (int s = 0; s < STRIPES; s++) {
            long[] cells = (long[]) STRIPE.getVolatile(stripes, s);
            if (cells != null) {
                sum += (long) CELL.getVolatile(cells, PAD + i);
            }
        }
        return sum;
    }

    /** Adds one to cell {@code i} of a stripe if it still holds {@code seen}; false if another thread moved it. */
    static boolean add(long[] cells, int i, long seen) {
        return CELL.compareAndSet(cells, PAD + i, seen, seen + 1);
    }

    /** Adds one to cell {@code i} of a stripe. */
    static void add(long[] cells, int i) {
        CELL.getAndAdd(cells, PAD + i, 1L);
    }
}
