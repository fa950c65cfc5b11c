package io.nthlb.nat;

import io.nthlb.rules.AddrTypeMatch;
import io.nthlb.rules.CommentMatch;
import io.nthlb.rules.MarkMatch;
import io.nthlb.rules.Match;
import io.nthlb.rules.MultiportMatch;
import io.nthlb.rules.NthMatch;
import io.nthlb.rules.PortMatch;
import io.nthlb.rules.RandomMatch;
import io.nthlb.rules.RecentMatch;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One {@code -m} match of a compiled rule, ready to test a connection. Only {@link Nth} and
 * {@link RandomDraw} have side effects (a counter, a random draw); the others are pure.
 */
abstract sealed class MatchStep {

    /** Whether the connection passes this match; may move a counter or draw a random number. */
    abstract boolean test(int clientIp, int clientPort, int localIp, int localPort, RandomSource random,
                          Arrival arrival);

    /** Whether testing has a side effect, so that a rule must not be skipped once it reaches this step. */
    boolean hasSideEffect() {
        return false;
    }

    /**
     * Compiles a match. {@code previousNth} is the counter an unchanged rule had before a reload, or
     * {@code null} for a fresh one; {@code recent} holds the table's {@code -m recent} lists.
     */
    static MatchStep of(Match match, AtomicLong previousNth, RecentLists recent) {
        if (match instanceof PortMatch m) {
            return new Ports(m);
        } else if (match instanceof MultiportMatch m) {
            return new Multiport(m);
        } else if (match instanceof NthMatch m) {
            return new Nth(m, previousNth);
        } else if (match instanceof RandomMatch m) {
            return new RandomDraw(m);
        } else if (match instanceof CommentMatch) {
            return Constant.TRUE;
        } else if (match instanceof MarkMatch m) {
            // nthlb's connections carry no firewall mark: the mark is 0, so the answer is fixed.
            return m.matches(0) ? Constant.TRUE : Constant.FALSE;
        } else if (match instanceof AddrTypeMatch m) {
            return new AddrType(m);
        } else if (match instanceof RecentMatch m) {
            return new Recent(m, recent);
        }
        throw new IllegalArgumentException("match: " + match + " (expected: a known match)");
    }

    /** {@code -m tcp --sport/--dport}. */
    static final class Ports extends MatchStep {
        private final PortMatch match;

        Ports(PortMatch match) {
            this.match = match;
        }

        @Override
        boolean test(int clientIp, int clientPort, int localIp, int localPort, RandomSource random, Arrival arrival) {
            return match.matches(clientPort, localPort);
        }
    }

    /** {@code -m multiport}. */
    static final class Multiport extends MatchStep {
        private final MultiportMatch match;

        Multiport(MultiportMatch match) {
            this.match = match;
        }

        @Override
        boolean test(int clientIp, int clientPort, int localIp, int localPort, RandomSource random, Arrival arrival) {
            return match.matches(clientPort, localPort);
        }
    }

    /**
     * {@code -m statistic --mode nth}: {@code xt_statistic.c}'s compare-and-swap loop. iptables stores
     * {@code every = N - 1} and starts the count at {@code N - 1 - P}; each connection that reaches the
     * match moves it to {@code count == every ? 0 : count + 1} and matches when that is 0.
     */
    static final class Nth extends MatchStep {
        private final long every;
        private final boolean inverted;
        final AtomicLong count;

        Nth(NthMatch match, AtomicLong previous) {
            this.every = match.every() - 1;
            this.inverted = match.inverted();
            this.count = previous != null ? previous : new AtomicLong(every - match.packet());
        }

        @Override
        boolean test(int clientIp, int clientPort, int localIp, int localPort, RandomSource random, Arrival arrival) {
            long old;
            long next;
            do {
                old = count.get();
                next = old == every ? 0 : old + 1;
            } while (!count.compareAndSet(old, next));
            return (next == 0) != inverted;
        }

        @Override
        boolean hasSideEffect() {
            return true;
        }
    }

    /** {@code -m statistic --mode random}: {@code (random_u32 & 0x7FFFFFFF) < threshold}. */
    static final class RandomDraw extends MatchStep {
        final long threshold;
        final boolean inverted;

        RandomDraw(RandomMatch match) {
            this.threshold = match.threshold();
            this.inverted = match.inverted();
        }

        @Override
        boolean test(int clientIp, int clientPort, int localIp, int localPort, RandomSource random, Arrival arrival) {
            return ((random.nextInt() & 0x7FFFFFFFL) < threshold) != inverted;
        }

        @Override
        boolean hasSideEffect() {
            return true;
        }
    }

    /** {@code -m addrtype}: the route type of the source, then of the destination, as {@code addrtype_mt_v1}. */
    static final class AddrType extends MatchStep {
        private final AddrTypeMatch match;

        AddrType(AddrTypeMatch match) {
            this.match = match;
        }

        @Override
        boolean test(int clientIp, int clientPort, int localIp, int localPort, RandomSource random, Arrival arrival) {
            // --limit-iface-out looks at the outgoing interface, which no packet in PREROUTING has yet.
            String device = switch (match.limit()) {
                case NONE -> null;
                case IN -> arrival.in();
                case OUT -> "";
            };
            return AddrTypeMatch.passes(match.sourceTypes(), match.sourceInverted(),
                    match.sourceTypes() == 0 ? 0 : arrival.type(clientIp, device))
                    && AddrTypeMatch.passes(match.destinationTypes(), match.destinationInverted(),
                    match.destinationTypes() == 0 ? 0 : arrival.type(localIp, device));
        }
    }

    /** {@code -m recent}: looks up, adds or removes the address in its named list. */
    static final class Recent extends MatchStep {
        private final RecentMatch match;
        private final RecentLists lists;
        private final RecentLists.RecentList list;

        Recent(RecentMatch match, RecentLists lists) {
            this.match = match;
            this.lists = lists;
            this.list = lists.list(match.name());
        }

        @Override
        boolean test(int clientIp, int clientPort, int localIp, int localPort, RandomSource random, Arrival arrival) {
            return list.test(match, match.destinationSide() ? localIp : clientIp, lists.now());
        }

        @Override
        boolean hasSideEffect() {
            return true;
        }
    }

    /** A match whose answer is known when the table is compiled ({@code comment}, {@code mark}). */
    static final class Constant extends MatchStep {
        static final Constant TRUE = new Constant(true);
        static final Constant FALSE = new Constant(false);

        final boolean value;

        private Constant(boolean value) {
            this.value = value;
        }

        @Override
        boolean test(int clientIp, int clientPort, int localIp, int localPort, RandomSource random, Arrival arrival) {
            return value;
        }
    }
}
