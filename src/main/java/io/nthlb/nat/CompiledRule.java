package io.nthlb.nat;

import io.nthlb.rules.AddressMatch;
import io.nthlb.rules.Cidr;
import io.nthlb.rules.DnatTarget;
import io.nthlb.rules.JumpTarget;
import io.nthlb.rules.PassiveTarget;
import io.nthlb.rules.ProtocolMatch;
import io.nthlb.rules.RedirectTarget;
import io.nthlb.rules.Rule;
import io.nthlb.rules.Target;
import io.nthlb.rules.VerdictTarget;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/** One rule of the run-time table: its options flattened for a fast test, its counters and its target. */
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

    final Rule rule;
    /** 0-based position in its chain. */
    final int index;
    /** {@code CHAIN:N}, 1-based, for logs. */
    final String label;
    final RuleCounters counters;
    final Action action;
    final String jumpChain;
    final DestinationRewrite rewrite;

    private final int sourceAddress;
    private final int sourceMask;
    private final boolean sourceInverted;
    private final int destinationAddress;
    private final int destinationMask;
    private final boolean destinationInverted;
    /** Whether {@code -p} admits TCP; nthlb only ever sees TCP connections. */
    final boolean admitsTcp;
    final MatchStep[] steps;

    /** The chain a JUMP or GOTO goes to, resolved once every chain exists. */
    CompiledChain jumpTo;

    CompiledRule(Rule rule, int index, CompiledRule previous) {
        this.rule = rule;
        this.index = index;
        this.label = rule.chain() + ":" + (index + 1);
        this.counters = previous != null ? previous.counters : new RuleCounters();
        AddressMatch source = rule.source() == null ? AddressMatch.ANY : rule.source();
        AddressMatch destination = rule.destination() == null ? AddressMatch.ANY : rule.destination();
        this.sourceAddress = source.network().address();
        this.sourceMask = Cidr.mask(source.network().prefixLength());
        this.sourceInverted = source.inverted();
        this.destinationAddress = destination.network().address();
        this.destinationMask = Cidr.mask(destination.network().prefixLength());
        this.destinationInverted = destination.inverted();
        ProtocolMatch protocol = rule.protocol();
        this.admitsTcp = protocol == null || protocol.matches(ProtocolMatch.TCP);

        List<io.nthlb.rules.Match> matches = rule.matches();
        this.steps = new MatchStep[matches.size()];
        for (int i = 0; i < steps.length; i++) {
            AtomicLong previousNth = previous != null && previous.steps[i] instanceof MatchStep.Nth nth
                    ? nth.count : null;
            steps[i] = MatchStep.of(matches.get(i), previousNth);
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
        this.rewrite = rewriteTo;
    }

    /**
     * Whether every option of the rule holds for the connection, tested as the kernel tests them: the
     * fixed part ({@code -s}, {@code -d}, {@code -p}; {@code -i}/{@code -o} cannot be seen and hold), then
     * the {@code -m} matches left to right, stopping at the first that fails so that later statistic
     * counters do not move.
     */
    boolean matches(int clientIp, int clientPort, int localIp, int localPort, RandomSource random) {
        if (!admitsTcp
                || ((clientIp & sourceMask) == sourceAddress) == sourceInverted
                || ((localIp & destinationMask) == destinationAddress) == destinationInverted) {
            return false;
        }
        for (MatchStep step : steps) {
            if (!step.test(clientIp, clientPort, localIp, localPort, random)) {
                return false;
            }
        }
        return true;
    }

    /** The rule with its origin dropped: what "unchanged" means on reload. */
    Rule identity() {
        return withoutOrigin(rule);
    }

    static Rule withoutOrigin(Rule rule) {
        return new Rule(rule.chain(), rule.source(), rule.destination(), rule.in(), rule.out(), rule.protocol(),
                rule.matches(), rule.target(), null);
    }
}
