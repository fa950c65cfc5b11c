package io.nthlb.nat;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The compiled chains laid out for {@link NatTable#decide}: every rule reachable from PREROUTING as a fixed-size
 * record of ints in one array, in the order a walk meets them (a rule, then the chain it jumps to, then the
 * next rule), so that a kube-proxy service's {@code KUBE-SERVICES} rule, its {@code KUBE-SVC} chain and its
 * {@code KUBE-SEP} chains lie in a few consecutive cache lines instead of a dozen scattered objects. Jump targets
 * are record numbers; the {@code (address, port)} index of a keyed chain is an open-addressing table of longs.
 *
 * <p>The records are a copy of what {@link CompiledRule} holds; a rule whose matches do not fit a record (an nth
 * counter, multiport, several side effects) is tested by its {@link CompiledRule} itself, in the same order. The
 * counters stay in each rule's {@link LiveCounters}, which a reload hands on to the next table.
 *
 * <p>A decision whose walk credited exactly the jumps that led to its deciding rule, in a chain that only one
 * rule jumps to (and so on up to PREROUTING), is the same every time for an ACCEPT or a fixed DNAT: such a
 * decision is kept once made, and handed out again without allocating.
 */
final class FlatProgram {

    // Record layout.
    static final int FLAGS = 0;
    static final int SRC = 1;
    static final int SRC_MASK = 2;
    static final int DST = 3;
    static final int DST_MASK = 4;
    /** {@code first << 16 | last}. */
    static final int SPORTS = 5;
    static final int DPORTS = 6;
    static final int THRESHOLD = 7;
    /** The next rule of the same chain, or -1. */
    static final int NEXT = 8;
    /** JUMP, GOTO: the first rule of the target chain, or -1 when it has none. */
    static final int TARGET_FIRST = 9;
    /** JUMP, GOTO: the target chain's keyed index in {@link #keyed}, or -1 for a chain walked rule by rule. */
    static final int TARGET_KEYED = 10;
    static final int STRIDE = 11;

    // Flags.
    static final int CAN_MATCH = 1;
    static final int SRC_INV = 1 << 1;
    static final int DST_INV = 1 << 2;
    static final int SPORT_INV = 1 << 3;
    static final int DPORT_INV = 1 << 4;
    static final int RANDOM = 1 << 5;
    static final int RANDOM_INV = 1 << 6;
    /** Matches that do not fit the record: test with {@link CompiledRule#matches}. */
    static final int STEPS = 1 << 7;
    /**
     * An ACCEPT or fixed DNAT rule in a chain with one path to it: its decision, when the walk credited only that
     * path, is always the same, and is kept in {@link #decisions} once made.
     */
    static final int SAME = 1 << 8;
    static final int ACTION_SHIFT = 16;

    static final int CONTINUE = 0;
    static final int ACCEPT = 1;
    static final int RETURN = 2;
    static final int JUMP = 3;
    static final int GOTO = 4;
    static final int REWRITE = 5;

    final int[] code;
    /** The rule of each record, for its counters, its decision and the matches that do not fit a record. */
    final CompiledRule[] rules;
    /**
     * The decision of a {@link #SAME} rule, once made, or {@code null}. Written by whichever thread makes it first (a
     * {@link Decision} is immutable, so a racing thread at worst makes an equal one).
     */
    final Decision[] decisions;
    /** PREROUTING's first record, or -1. */
    final int start;
    /** PREROUTING's keyed index, or -1. */
    final int startKeyed;
    final Keyed[] keyed;

    /** A chain with rules filed by destination: the exact {@code (address, port)} lists, and the general index. */
    static final class Keyed {
        /** {@code key, value} pairs; value {@code count << 32 | record} for one rule, else {@code offset}. */
        final long[] table;
        final int mask;
        /** Lists of record numbers: {@code count, records...}. */
        final int[] pool;
        final CandidateIndex index;
        /** Record number by position in the chain, for the lists of {@link #index}. */
        final int[] recordOf;

        Keyed(long[] table, int[] pool, CandidateIndex index, int[] recordOf) {
            this.table = table;
            this.mask = table.length / 2 - 1;
            this.pool = pool;
            this.index = index;
            this.recordOf = recordOf;
        }

        /** The exact entry for the key, or 0. */
        long exact(int ip, int port) {
            if (table.length == 0) {
                return 0;
            }
            long key = ((long) ip << 32) | (port & 0xFFFFFFFFL);
            int slot = spread(key) & mask;
            while (true) {
                long value = table[2 * slot + 1];
                if (value == 0 || table[2 * slot] == key) {
                    return value;
                }
                slot = (slot + 1) & mask;
            }
        }
    }

    private FlatProgram(int[] code, CompiledRule[] rules, Decision[] decisions, int start, int startKeyed,
                        Keyed[] keyed) {
        this.code = code;
        this.rules = rules;
        this.decisions = decisions;
        this.start = start;
        this.startKeyed = startKeyed;
        this.keyed = keyed;
    }

    static int spread(long key) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 29) ^ (h >>> 47));
    }

    /** Lays out the chains reachable from {@code prerouting}; jumps must be resolved, counted and loop-free. */
    static FlatProgram of(CompiledChain prerouting) {
        Builder b = new Builder();
        b.emit(prerouting, true);
        int n = b.order.size();
        return new FlatProgram(Arrays.copyOf(b.code, n * STRIDE), b.order.toArray(new CompiledRule[0]),
                new Decision[n], prerouting.firstRecord, prerouting.keyedId, b.keyed.toArray(new Keyed[0]));
    }

    private static final class Builder {
        final List<Keyed> keyed = new ArrayList<>();
        final List<CompiledRule> order = new ArrayList<>();
        int[] code = new int[STRIDE * 64];

        /**
         * Emits a chain's records, each followed by the chain it jumps to when that is new. {@code onePath}: the
         * chain is PREROUTING, or only one JUMP leads to it (the one that emits it) from a chain with one path.
         * The chains being emitted are kept on a stack of their own rather than the thread's, as the input
         * decides how deep jumps go.
         */
        void emit(CompiledChain first, boolean firstOnePath) {
            ArrayDeque<Emitting> stack = new ArrayDeque<>();
            stack.push(new Emitting(first, firstOnePath));
            first.emitted = true;
            first.firstRecord = first.rules.length == 0 ? -1 : order.size();
            while (!stack.isEmpty()) {
                Emitting e = stack.peek();
                CompiledChain chain = e.chain;
                if (e.waiting >= 0) {
                    // The chain the rule jumps to is laid out: its records and index are known (no loops).
                    link(e.waiting, chain.rules[e.next - 1].jumpTo);
                    e.waiting = -1;
                }
                if (e.next == chain.rules.length) {
                    if (!chain.candidateIndex().unkeyedOnly()) {
                        chain.keyedId = keyed.size();
                        keyed.add(keyed(chain, e.records));
                    }
                    stack.pop();
                    continue;
                }
                int i = e.next++;
                CompiledRule rule = chain.rules[i];
                int r = order.size();
                e.records[i] = r;
                order.add(rule);
                if (code.length < (r + 1) * STRIDE) {
                    code = Arrays.copyOf(code, code.length * 2);
                }
                rule.writeRecord(code, r * STRIDE);
                code[r * STRIDE + NEXT] = -1;
                if (i > 0) {
                    code[e.records[i - 1] * STRIDE + NEXT] = r;
                }
                if (e.onePath && decides(rule)) {
                    code[r * STRIDE + FLAGS] |= SAME;
                }
                CompiledChain to = rule.jumpTo;
                if (to == null) {
                    continue;
                }
                if (to.emitted) {
                    link(r, to);
                } else {
                    e.waiting = r;
                    to.emitted = true;
                    to.firstRecord = to.rules.length == 0 ? -1 : order.size();
                    stack.push(new Emitting(to, e.onePath && to.referrers == 1));
                }
            }
        }

        private void link(int record, CompiledChain to) {
            code[record * STRIDE + TARGET_FIRST] = to.firstRecord;
            code[record * STRIDE + TARGET_KEYED] = to.keyedId;
        }

        /** A chain part laid out: the next rule to lay out and the record waiting for its jump's chain. */
        private static final class Emitting {
            final CompiledChain chain;
            final boolean onePath;
            final int[] records;
            int next;
            int waiting = -1;

            Emitting(CompiledChain chain, boolean onePath) {
                this.chain = chain;
                this.onePath = onePath;
                this.records = new int[chain.rules.length];
            }
        }

        /** Whether the rule's decision never varies: ACCEPT, or a DNAT to one address and port. */
        static boolean decides(CompiledRule rule) {
            return rule.action == CompiledRule.Action.ACCEPT
                    || rule.action == CompiledRule.Action.REWRITE && rule.fixedDestination != null;
        }

        static Keyed keyed(CompiledChain chain, int[] records) {
            int[][] exact = chain.candidateIndex().exactEntries();
            int capacity = Integer.highestOneBit(Math.max(2, exact.length) * 2 - 1) * 2;
            long[] table = exact.length == 0 ? new long[0] : new long[2 * capacity];
            int mask = capacity - 1;
            int[] pool = new int[16];
            int used = 0;
            for (int[] entry : exact) {
                int count = entry.length - CandidateIndex.FIRST;
                long value;
                if (count == 1) {
                    value = (1L << 32) | records[entry[CandidateIndex.FIRST]];
                } else {
                    if (pool.length < used + count + 1) {
                        pool = Arrays.copyOf(pool, Math.max(pool.length * 2, used + count + 1));
                    }
                    value = used;
                    pool[used++] = count;
                    for (int i = CandidateIndex.FIRST; i < entry.length; i++) {
                        pool[used++] = records[entry[i]];
                    }
                }
                long key = ((long) entry[CandidateMap.KEY_HIGH] << 32) | (entry[CandidateMap.KEY_LOW] & 0xFFFFFFFFL);
                int slot = spread(key) & mask;
                while (table[2 * slot + 1] != 0) {
                    slot = (slot + 1) & mask;
                }
                table[2 * slot] = key;
                // An offset of 0 with a count of 0 would read as empty: pool offsets are stored plus one.
                table[2 * slot + 1] = count == 1 ? value : value + 1;
            }
            return new Keyed(table, Arrays.copyOf(pool, used), chain.candidateIndex(), records);
        }

    }
}
