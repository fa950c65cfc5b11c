package io.nthlb.nat;

/**
 * An open-addressing hash map from a {@code long} key to an array of rule positions, built once and then
 * only read: a lookup on the decision path neither boxes nor allocates.
 */
final class CandidateMap {

    private static final CandidateMap EMPTY = new CandidateMap(new long[0], new int[0][], 0);

    private final long[] keys;
    private final int[][] values;
    private final int mask;

    private CandidateMap(long[] keys, int[][] values, int mask) {
        this.keys = keys;
        this.values = values;
        this.mask = mask;
    }

    /** The map of {@code keys[i] -> values[i]}; keys must be distinct. */
    static CandidateMap of(long[] keys, int[][] values) {
        if (keys.length == 0) {
            return EMPTY;
        }
        int capacity = Integer.highestOneBit(Math.max(2, keys.length) * 2 - 1) * 2;
        long[] k = new long[capacity];
        int[][] v = new int[capacity][];
        int m = capacity - 1;
        for (int i = 0; i < keys.length; i++) {
            int slot = spread(keys[i]) & m;
            while (v[slot] != null) {
                slot = (slot + 1) & m;
            }
            k[slot] = keys[i];
            v[slot] = values[i];
        }
        return new CandidateMap(k, v, m);
    }

    /** The value for {@code key}, or {@code null}. */
    int[] get(long key) {
        if (values.length == 0) {
            return null;
        }
        int slot = spread(key) & mask;
        int[] value;
        while ((value = values[slot]) != null) {
            if (keys[slot] == key) {
                return value;
            }
            slot = (slot + 1) & mask;
        }
        return null;
    }

    boolean isEmpty() {
        return values.length == 0;
    }

    private static int spread(long key) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 32));
    }
}
