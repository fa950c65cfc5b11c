package io.nthlb.nat;

/**
 * An open-addressing hash map from a key of two ints to an array of rule positions, built once and then only
 * read: a lookup neither boxes nor allocates.
 *
 * <p>Each slot is one {@code int[]} that starts with its key ({@link #KEY_HIGH}, {@link #KEY_LOW}) followed by
 * the positions from {@link CandidateIndex#FIRST}, so a hit costs one load of the slot and then reads on in the
 * same array: in a table of ten thousand services every avoided cache miss shows.
 */
final class CandidateMap {

    static final int KEY_HIGH = 0;
    static final int KEY_LOW = 1;

    private static final CandidateMap EMPTY = new CandidateMap(new int[0][], 0);

    private final int[][] slots;
    private final int mask;

    private CandidateMap(int[][] slots, int mask) {
        this.slots = slots;
        this.mask = mask;
    }

    /** The map holding {@code entries}, each an array keyed by its first two ints; keys must be distinct. */
    static CandidateMap of(int[][] entries) {
        if (entries.length == 0) {
            return EMPTY;
        }
        int capacity = Integer.highestOneBit(Math.max(2, entries.length) * 2 - 1) * 2;
        int[][] slots = new int[capacity][];
        int mask = capacity - 1;
        for (int[] entry : entries) {
            int slot = spread(entry[KEY_HIGH], entry[KEY_LOW]) & mask;
            while (slots[slot] != null) {
                slot = (slot + 1) & mask;
            }
            slots[slot] = entry;
        }
        return new CandidateMap(slots, mask);
    }

    /** The entry for the key, or {@code null}. */
    int[] get(int high, int low) {
        if (slots.length == 0) {
            return null;
        }
        int slot = spread(high, low) & mask;
        int[] entry;
        while ((entry = slots[slot]) != null) {
            if (entry[KEY_HIGH] == high && entry[KEY_LOW] == low) {
                return entry;
            }
            slot = (slot + 1) & mask;
        }
        return null;
    }

    /** Every entry, in no particular order. */
    int[][] entries() {
        int n = 0;
        for (int[] slot : slots) {
            n += slot == null ? 0 : 1;
        }
        int[][] out = new int[n][];
        n = 0;
        for (int[] slot : slots) {
            if (slot != null) {
                out[n++] = slot;
            }
        }
        return out;
    }

    boolean isEmpty() {
        return slots.length == 0;
    }

    private static int spread(int high, int low) {
        long h = (((long) high << 32) | (low & 0xFFFFFFFFL)) * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 29) ^ (h >>> 47));
    }
}
