package io.nthlb.nat;

import io.nthlb.rules.Chain;
import io.nthlb.rules.CommentMatch;
import io.nthlb.rules.DnatTarget;
import io.nthlb.rules.JumpTarget;
import io.nthlb.rules.MarkMatch;
import io.nthlb.rules.Match;
import io.nthlb.rules.MultiportMatch;
import io.nthlb.rules.NthMatch;
import io.nthlb.rules.PassiveTarget;
import io.nthlb.rules.PortMatch;
import io.nthlb.rules.ProtocolMatch;
import io.nthlb.rules.RandomMatch;
import io.nthlb.rules.RedirectTarget;
import io.nthlb.rules.Rule;
import io.nthlb.rules.Ruleset;
import io.nthlb.rules.Target;
import io.nthlb.rules.VerdictTarget;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The reference the indexed {@link NatTable} is checked against: a plain, recursive walk over the rule
 * model, every rule of every chain in order, written from docs/semantics.md without sharing the table's code.
 * The nth match is written as the law ("number the connections that reach it 0, 1, 2...; connection i
 * matches when i mod N == P") rather than as the kernel's counter, so the two formulations check each other.
 * Not thread-safe.
 */
final class LinearWalk {

    private final Ruleset rules;
    private final RandomSource random;
    /** How many connections reached each nth match, by rule and match position. */
    private final Map<String, Long> reached = new HashMap<>();
    private final Map<String, Long> packets = new HashMap<>();

    LinearWalk(Ruleset rules, RandomSource random) {
        this.rules = rules;
        this.random = random;
    }

    /** What the walk ended in: a decided outcome, or a return to the caller. */
    private record Outcome(String text) {
        static final Outcome RETURNED = new Outcome(null);
    }

    /** The decision in the form of {@link Decision#toString()}. */
    String decide(int clientIp, int clientPort, int localIp, int localPort) {
        Chain prerouting = rules.chain("PREROUTING");
        Outcome outcome = walk(prerouting, clientIp, clientPort, localIp, localPort);
        if (outcome.text != null) {
            return outcome.text;
        }
        packets.merge("PREROUTING policy", 1L, Long::sum);
        return "PREROUTING policy " + prerouting.policy();
    }

    private Outcome walk(Chain chain, int clientIp, int clientPort, int localIp, int localPort) {
        List<Rule> list = chain.rules();
        for (int i = 0; i < list.size(); i++) {
            Rule rule = list.get(i);
            String label = chain.name() + ":" + (i + 1);
            if (!matches(rule, label, clientIp, clientPort, localIp, localPort)) {
                continue;
            }
            packets.merge(label, 1L, Long::sum);
            Target target = rule.target();
            if (target == null || target instanceof PassiveTarget p && !p.terminates()) {
                continue;
            }
            if (target instanceof PassiveTarget
                    || target instanceof VerdictTarget v && v.verdict() == VerdictTarget.Verdict.ACCEPT) {
                return new Outcome(label + " ACCEPT");
            }
            if (target instanceof VerdictTarget) {
                return Outcome.RETURNED;
            }
            if (target instanceof JumpTarget jump) {
                Outcome sub = walk(rules.chain(jump.chain()), clientIp, clientPort, localIp, localPort);
                if (sub.text != null || jump.goTo()) {
                    // A goto'd chain that returns makes this chain return too: nothing was pushed for it.
                    return sub;
                }
                continue;
            }
            DestinationRewrite rewrite = target instanceof DnatTarget d ? DestinationRewrite.of(d)
                    : DestinationRewrite.of((RedirectTarget) target);
            InetSocketAddress to = rewrite.rewrite(clientIp, localIp, localPort, random);
            return new Outcome(label + " -> " + to.getAddress().getHostAddress() + ":" + to.getPort());
        }
        return Outcome.RETURNED;
    }

    private boolean matches(Rule rule, String label, int clientIp, int clientPort, int localIp, int localPort) {
        if (!rule.source().matches(clientIp) || !rule.destination().matches(localIp)) {
            return false;
        }
        if (rule.protocol() != null && !rule.protocol().matches(ProtocolMatch.TCP)) {
            return false;
        }
        List<Match> matches = rule.matches();
        for (int m = 0; m < matches.size(); m++) {
            Match match = matches.get(m);
            boolean ok;
            if (match instanceof PortMatch p) {
                ok = p.matches(clientPort, localPort);
            } else if (match instanceof MultiportMatch p) {
                ok = p.matches(clientPort, localPort);
            } else if (match instanceof NthMatch nth) {
                long i = reached.merge(label + "/" + m, 1L, Long::sum) - 1;
                ok = (i % nth.every() == nth.packet()) != nth.inverted();
            } else if (match instanceof RandomMatch r) {
                ok = ((random.nextInt() & 0x7FFFFFFFL) < r.threshold()) != r.inverted();
            } else if (match instanceof MarkMatch mark) {
                ok = mark.matches(0);
            } else {
                ok = match instanceof CommentMatch;
            }
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    /** Connections that matched rule {@code index} (0-based) of {@code chain}. */
    long packets(String chain, int index) {
        return packets.getOrDefault(chain + ":" + (index + 1), 0L);
    }

    long policyPackets() {
        return packets.getOrDefault("PREROUTING policy", 0L);
    }

}
