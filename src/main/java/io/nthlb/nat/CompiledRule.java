package io.nthlb.nat;

import io.nthlb.rules.AddressMatch;
import io.nthlb.rules.Cidr;
import io.nthlb.rules.DnatTarget;
import io.nthlb.rules.InterfaceMatch;
import io.nthlb.rules.JumpTarget;
import io.nthlb.rules.Match;
import io.nthlb.rules.PassiveTarget;
import io.nthlb.rules.PortMatch;
import io.nthlb.rules.PortRange;
import io.nthlb.rules.ProtocolMatch;
import io.nthlb.rules.RedirectTarget;
import io.nthlb.rules.Rule;
import io.nthlb.rules.Target;
import io.nthlb.rules.VerdictTarget;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One rule of the run-time table: its options flattened for a fast test, its counters and its target.
 *
 * <p>A large table is walked through cache misses, so the common options are held in this object's own
 * fields: the fixed part, the first {@code -m tcp} port test, and a lone random match. Pure matches (ports,
 * comments, mark tests on mark 0) only move into those fields from before the first match with a side effect
 * (an nth counter or a random draw), so the kernel's order of tests, and with it which counters move, is kept.
 */
final class CompiledRule {

    /** What the walk does once every option of the rule holds. */
    enum Action {
        /** No target, or a target such as MARK that does not end the walk: count and go on. */
        CONTINUE,
        /** ACCEPT, or a terminating passive target (SNAT, MASQUERADE): no NAT. */
        ACCEPT,
        RETURN,
        JUMP,
        GOTO,
        /** DNAT or REDIRECT. */
        REWRITE
    }

    private static final MatchStep[] NO_STEPS = new MatchStep[0];

    final Rule rule;
    /** 0-based position in its chain. */
    final int index;
    /** The previous table's when a reload keeps the rule; else made once the table is compiled (see NatTable). */
    LiveCounters counters;
    final Action action;
    final String jumpChain;
    /** How a DNAT or REDIRECT rule picks its destination, or {@code null} when {@link #fixedDestination} is it. */
    final DestinationRewrite rewrite;
    /** The rewrite's answer when it never varies, so that the common DNAT needs no further load. */
    final InetSocketAddress fixedDestination;
    /** The nth counters by match position ({@code null} where the match is not nth, or for no nth), for reload. */
    final AtomicLong[] nthCounters;

    /** False when the rule can never match a connection of its protocol with mark 0 before any side effect. */
    final boolean canMatch;
    private final int sourceAddress;
    private final int sourceMask;
    private final boolean sourceInverted;
    private final int destinationAddress;
    private final int destinationMask;
    private final boolean destinationInverted;
    private final int sourcePortFirst;
    private final int sourcePortLast;
    private final boolean sourcePortInverted;
    private final int destinationPortFirst;
    private final int destinationPortLast;
    private final boolean destinationPortInverted;
    /** The matches left after the ones held in fields, in the order written. */
    private final MatchStep[] steps;
    /** {@code -i}, tested at run time, or {@code null} when absent; {@code -o} is settled at compile time. */
    private final InterfaceMatch in;
    /** A lone random match left last, held in fields: its threshold, or -1 for none. */
    private final long randomThreshold;
    private final boolean randomInverted;

    /** The chain a JUMP or GOTO goes to, resolved once every chain exists. */
    CompiledChain jumpTo;

    /**
     * @param previous the rule whose counters and nth positions this one carries on, or {@code null}
     * @param protocol the IP protocol of the connections this copy decides ({@link ProtocolMatch#TCP} or
     *                 {@link ProtocolMatch#UDP}): a {@code -p} that excludes it makes the rule never match
     * @param recent   the table's {@code -m recent} lists, shared by every copy of the table's rules
     */
    CompiledRule(Rule rule, int index, CompiledRule previous, int protocol, RecentLists recent) {
        this.rule = rule;
        this.index = index;
        this.counters = previous != null ? previous.counters : null;
        AddressMatch source = rule.source() == null ? AddressMatch.ANY : rule.source();
        AddressMatch destination = rule.destination() == null ? AddressMatch.ANY : rule.destination();
        this.sourceAddress = source.network().address();
        this.sourceMask = Cidr.mask(source.network().prefixLength());
        this.sourceInverted = source.inverted();
        this.destinationAddress = destination.network().address();
        this.destinationMask = Cidr.mask(destination.network().prefixLength());
        this.destinationInverted = destination.inverted();
        boolean live = rule.protocol() == null || rule.protocol().matches(protocol);
        this.in = rule.in();
        // A packet in PREROUTING has no outgoing interface yet: -o tests the empty name, the same every time.
        live &= rule.out() == null || rule.out().matches("");

        List<Match> matches = rule.matches();
        AtomicLong[] nth = null;
        List<MatchStep> rest = new ArrayList<>();
        PortMatch hoisted = null;
        boolean sideEffectSeen = false;
        for (int i = 0; i < matches.size(); i++) {
            Match match = matches.get(i);
            AtomicLong previousNth = previous != null && previous.nthCounters != null ? previous.nthCounters[i] : null;
            MatchStep step = MatchStep.of(match, previousNth, recent);
            if (step instanceof MatchStep.Nth nthStep) {
                if (nth == null) {
                    nth = new AtomicLong[matches.size()];
                }
                nth[i] = nthStep.count;
            }
            if (step == MatchStep.Constant.TRUE) {
                continue; // a comment, or a mark test that holds on mark 0: nothing to test, nothing moves
            }
            if (!sideEffectSeen) {
                if (step == MatchStep.Constant.FALSE) {
                    live = false; // fails before any counter could move: the rule never matches
                    continue;
                }
                if (hoisted == null && match instanceof PortMatch ports) {
                    hoisted = ports;
                    continue;
                }
            }
            sideEffectSeen |= step.hasSideEffect();
            rest.add(step);
        }
        this.nthCounters = nth;
        this.canMatch = live;
        PortRange sourcePorts = hoisted == null ? PortRange.ALL : hoisted.sourcePorts();
        PortRange destinationPorts = hoisted == null ? PortRange.ALL : hoisted.destinationPorts();
        this.sourcePortFirst = sourcePorts.first();
        this.sourcePortLast = sourcePorts.last();
        this.sourcePortInverted = hoisted != null && hoisted.sourceInverted();
        this.destinationPortFirst = destinationPorts.first();
        this.destinationPortLast = destinationPorts.last();
        this.destinationPortInverted = hoisted != null && hoisted.destinationInverted();
        if (rest.size() == 1 && rest.get(0) instanceof MatchStep.RandomDraw draw) {
            this.randomThreshold = draw.threshold;
            this.randomInverted = draw.inverted;
            this.steps = NO_STEPS;
        } else {
            this.randomThreshold = -1;
            this.randomInverted = false;
            this.steps = rest.isEmpty() ? NO_STEPS : rest.toArray(NO_STEPS);
        }

        Target target = rule.target();
        String chain = null;
        DestinationRewrite rewriteTo = null;
        Action act;
        if (target == null) {
            act = Action.CONTINUE;
        } else if (target instanceof PassiveTarget passive) {
            act = passive.terminates() ? Action.ACCEPT : Action.CONTINUE;
        } else if (target instanceof VerdictTarget verdict) {
            act = verdict.verdict() == VerdictTarget.Verdict.ACCEPT ? Action.ACCEPT : Action.RETURN;
        } else if (target instanceof JumpTarget jump) {
            act = jump.goTo() ? Action.GOTO : Action.JUMP;
            chain = jump.chain();
        } else if (target instanceof DnatTarget dnat) {
            act = Action.REWRITE;
            rewriteTo = DestinationRewrite.of(dnat);
        } else if (target instanceof RedirectTarget redirect) {
            act = Action.REWRITE;
            rewriteTo = DestinationRewrite.of(redirect);
        } else {
            throw new IllegalArgumentException("target: " + target + " (expected: a nat table target)");
        }
        this.action = act;
        this.jumpChain = chain;
        this.fixedDestination = rewriteTo == null ? null : rewriteTo.fixed();
        // A fixed answer is all a rule needs; not keeping the rewrite keeps a large table smaller.
        this.rewrite = fixedDestination != null ? null : rewriteTo;
    }

    /**
     * Whether every option of the rule holds for the connection, tested as the kernel tests them: the
     * fixed part ({@code -s}, {@code -d}, {@code -i}, {@code -p}), then the {@code -m} matches left to right,
     * stopping at the first that fails so that later statistic counters and recent lists do not move.
     */
    boolean matches(int clientIp, int clientPort, int localIp, int localPort, RandomSource random, Arrival arrival) {
        if (!canMatch
                || ((clientIp & sourceMask) == sourceAddress) == sourceInverted
                || ((localIp & destinationMask) == destinationAddress) == destinationInverted
                || (clientPort >= sourcePortFirst && clientPort <= sourcePortLast) == sourcePortInverted
                || (localPort >= destinationPortFirst && localPort <= destinationPortLast) == destinationPortInverted
                || in != null && !in.matches(arrival.in())) {
            return false;
        }
        for (MatchStep step : steps) {
            if (!step.test(clientIp, clientPort, localIp, localPort, random, arrival)) {
                return false;
            }
        }
        return randomThreshold < 0 || ((random.nextInt() & 0x7FFFFFFFL) < randomThreshold) != randomInverted;
    }

    /** Writes this rule's record for {@link FlatProgram} at {@code code[at]}; the links are the program's. */
    void writeRecord(int[] code, int at) {
        int flags = (canMatch ? FlatProgram.CAN_MATCH : 0)
                | (sourceInverted ? FlatProgram.SRC_INV : 0)
                | (destinationInverted ? FlatProgram.DST_INV : 0)
                | (sourcePortInverted ? FlatProgram.SPORT_INV : 0)
                | (destinationPortInverted ? FlatProgram.DPORT_INV : 0)
                | (randomThreshold >= 0 ? FlatProgram.RANDOM : 0)
                | (randomInverted ? FlatProgram.RANDOM_INV : 0)
                | (steps.length > 0 || in != null ? FlatProgram.STEPS : 0);
        int act = switch (action) {
            case CONTINUE -> FlatProgram.CONTINUE;
            case ACCEPT -> FlatProgram.ACCEPT;
            case RETURN -> FlatProgram.RETURN;
            case JUMP -> FlatProgram.JUMP;
            case GOTO -> FlatProgram.GOTO;
            case REWRITE -> FlatProgram.REWRITE;
        };
        code[at + FlatProgram.FLAGS] = flags | act << FlatProgram.ACTION_SHIFT;
        code[at + FlatProgram.SRC] = sourceAddress;
        code[at + FlatProgram.SRC_MASK] = sourceMask;
        code[at + FlatProgram.DST] = destinationAddress;
        code[at + FlatProgram.DST_MASK] = destinationMask;
        code[at + FlatProgram.SPORTS] = sourcePortFirst << 16 | sourcePortLast;
        code[at + FlatProgram.DPORTS] = destinationPortFirst << 16 | destinationPortLast;
        // At most 2^31: read back as an unsigned int.
        code[at + FlatProgram.THRESHOLD] = (int) Math.max(randomThreshold, 0);
        code[at + FlatProgram.TARGET_FIRST] = -1;
        code[at + FlatProgram.TARGET_KEYED] = -1;
    }

    /** {@code CHAIN:N}, 1-based, for logs; made on demand, so that a large table holds no label strings. */
    String label() {
        return rule.chain() + ":" + (index + 1);
    }

    /** The new destination of a REWRITE rule. */
    InetSocketAddress rewrite(int clientIp, int localIp, int localPort, RandomSource random) {
        return fixedDestination != null ? fixedDestination : rewrite.rewrite(clientIp, localIp, localPort, random);
    }

    /** The rule with its origin dropped: what "unchanged" means on reload. */
    static Rule withoutOrigin(Rule rule) {
        return new Rule(rule.chain(), rule.source(), rule.destination(), rule.in(), rule.out(), rule.protocol(),
                rule.matches(), rule.target(), null);
    }
}
