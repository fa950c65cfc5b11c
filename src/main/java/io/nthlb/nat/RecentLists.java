package io.nthlb.nat;

import io.nthlb.rules.Chain;
import io.nthlb.rules.Match;
import io.nthlb.rules.RecentMatch;
import io.nthlb.rules.Rule;
import io.nthlb.rules.Ruleset;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * The {@code -m recent} lists of a table, one per {@code --name}, as the kernel's {@code xt_recent.c} keeps them:
 * at most {@link #LIST_TOTAL} addresses per list (the least recently updated one goes first), each with a ring of
 * timestamps. A reload keeps the list of every name the new table still uses, as the kernel keeps a list while
 * any loaded rule refers to it.
 */
final class RecentLists {
    /** {@code ip_list_tot}, the module parameter's default: addresses remembered per list. */
    static final int LIST_TOTAL = 100;

    private final Map<String, RecentList> byName;
    private final LongSupplier clock;

    private RecentLists(Map<String, RecentList> byName, LongSupplier clock) {
        this.byName = byName;
        this.clock = clock;
    }

    /**
     * The lists {@code rules} use, each taken over from {@code previous} when it had one of that name. A list's
     * mask is the first rule's that names it; its stamp ring fits the largest {@code --hitcount}, and a taken-over
     * list whose ring must grow is emptied, as {@code recent_mt_check} does.
     */
    static RecentLists of(Ruleset rules, RecentLists previous, LongSupplier clock) {
        Map<String, RecentList> lists = new HashMap<>();
        for (Chain chain : rules.chains()) {
            for (Rule rule : chain.rules()) {
                for (Match match : rule.matches()) {
                    if (match instanceof RecentMatch recent) {
                        RecentList list = lists.get(recent.name());
                        if (list == null) {
                            list = previous == null ? null : previous.byName.get(recent.name());
                            if (list == null) {
                                list = new RecentList(recent.mask());
                            }
                            lists.put(recent.name(), list);
                        }
                        list.fitHitCount(recent.hitCount());
                    }
                }
            }
        }
        return new RecentLists(lists, previous == null ? clock : previous.clock);
    }

    RecentList list(String name) {
        return byName.get(name);
    }

    /** Now, in nanoseconds of a monotonic clock. */
    long now() {
        return clock.getAsLong();
    }

    /** One list: addresses in least-recently-updated order, each with its stamps. */
    static final class RecentList {
        private final int mask;
        /** {@code nstamps_max_mask}: a ring of {@code stampMask + 1} stamps per address. */
        private int stampMask;
        private boolean fitted;
        private final LinkedHashMap<Integer, Entry> entries = new LinkedHashMap<>();

        RecentList(int mask) {
            this.mask = mask;
        }

        /** 31 without --hitcount (32 stamps), else the next power of two minus one, as in recent_mt_check. */
        synchronized void fitHitCount(long hitCount) {
            int wanted = hitCount == 0 ? 31 : (int) (Long.highestOneBit(hitCount * 2 - 1) - 1);
            if (!fitted) {
                fitted = true;
                if (stampMask == 0) {
                    stampMask = wanted;
                    return;
                }
            }
            if (wanted > stampMask) {
                entries.clear();
                stampMask = wanted;
            }
        }

        synchronized int size() {
            return entries.size();
        }

        /** {@code recent_mt} for one packet whose address (source or destination, unmasked) is {@code address}. */
        synchronized boolean test(RecentMatch m, int address, long now) {
            int key = address & mask;
            boolean ret = m.inverted();
            Entry e = entries.get(key);
            if (e == null) {
                if (m.command() != RecentMatch.Command.SET) {
                    return ret;
                }
                if (entries.size() >= LIST_TOTAL) {
                    Iterator<Entry> oldest = entries.values().iterator();
                    oldest.next();
                    oldest.remove();
                }
                entries.put(key, new Entry(stampMask + 1, now));
                return !ret;
            }
            switch (m.command()) {
                case SET -> ret = !ret;
                case REMOVE -> {
                    entries.remove(key);
                    ret = !ret;
                }
                default -> {
                    long horizon = now - m.seconds() * 1_000_000_000L;
                    int hits = 0;
                    for (int i = 0; i < e.count; i++) {
                        if (m.seconds() != 0 && horizon - e.stamps[i] > 0) {
                            continue;
                        }
                        if (m.hitCount() == 0 || ++hits >= m.hitCount()) {
                            ret = !ret;
                            break;
                        }
                    }
                    if (m.reap()) {
                        reap(horizon, e, m.command() == RecentMatch.Command.UPDATE && ret);
                    }
                }
            }
            if (m.command() == RecentMatch.Command.SET || m.command() == RecentMatch.Command.UPDATE && ret) {
                e.index &= stampMask;
                e.stamps[e.index++] = now;
                e.count = Math.max(e.count, e.index);
                // Last updated goes last: the least recently updated entry is the first to be evicted or reaped.
                entries.remove(key);
                entries.put(key, e);
            }
            return ret;
        }

        /** {@code recent_entry_reap}: drops the least recently updated entry when its last stamp is too old. */
        private void reap(long horizon, Entry working, boolean updating) {
            Iterator<Entry> it = entries.values().iterator();
            Entry oldest = it.next();
            if (oldest == working && updating) {
                return;
            }
            if (horizon - oldest.stamps[oldest.index - 1] > 0) {
                it.remove();
            }
        }
    }

    private static final class Entry {
        final long[] stamps;
        int index = 1;
        int count = 1;

        Entry(int size, long now) {
            stamps = new long[size];
            stamps[0] = now;
        }
    }
}
