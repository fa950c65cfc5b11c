package io.nthlb.nat;

import io.nthlb.rules.AddressMatch;
import io.nthlb.rules.Chain;
import io.nthlb.rules.DnatTarget;
import io.nthlb.rules.JumpTarget;
import io.nthlb.rules.MarkMatch;
import io.nthlb.rules.Match;
import io.nthlb.rules.MultiportMatch;
import io.nthlb.rules.PortMatch;
import io.nthlb.rules.PortRange;
import io.nthlb.rules.ProtocolMatch;
import io.nthlb.rules.RedirectTarget;
import io.nthlb.rules.Rule;
import io.nthlb.rules.RuleError;
import io.nthlb.rules.Ruleset;
import io.nthlb.rules.Target;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Where nthlb must listen so that the connections PREROUTING rewrites reach it, derived from the rules.
 *
 * <p>Every path from PREROUTING to a DNAT or REDIRECT rule is followed through its jumps and gotos, and the
 * destination constraints along it are combined: the {@code -d} options and the destination ports of
 * {@code -m tcp --dport} and {@code -m multiport --dports} (several on one path intersect). The path then
 * needs a listener on each of its ports, bound to its {@code -d} host when one {@code -d} on the path names a
 * single host ({@code /32}, not negated) and to the wildcard address otherwise. Options that only narrow what
 * reaches the listener (a network {@code -d}, a negated port, {@code -s}, statistic) are left to the table,
 * which decides each accepted connection anyway; earlier rules that would catch the traffic first are not
 * considered either, so the plan may listen on more than strictly needed, never on less.
 *
 * <p>A wildcard listener on a port covers every address, so host listeners on the same port are dropped.
 * A path with no destination port restriction, or with more than {@value #MAX_PORTS_PER_PATH} ports, cannot
 * sensibly be served by userspace listeners and gives an error naming the rewriting rule (its file and line)
 * and the path ({@code PREROUTING:3 -> KUBE-SVC-X:1}). Paths that cannot match a TCP connection at all are
 * ignored.
 */
public final class ListenPlan {

    /** The most ports one DNAT or REDIRECT path may need: each is a socket held open. */
    public static final int MAX_PORTS_PER_PATH = 1024;

    /** The most backends one rewriting rule contributes to {@link #backends()}: see there. */
    static final int MAX_BACKENDS_PER_RULE = 256;

    private final List<ListenAddress> addresses;
    private final List<RuleError> errors;
    private final List<InetSocketAddress> backends;
    private final Set<InetSocketAddress> backendSet;
    /** The rewrites whose backends are not listed in {@link #backends}: too many, or known only per connection. */
    private final List<Reach> unlisted;

    private ListenPlan(List<ListenAddress> addresses, List<RuleError> errors, List<InetSocketAddress> backends,
                       List<Reach> unlisted) {
        this.addresses = List.copyOf(addresses);
        this.errors = List.copyOf(errors);
        this.backends = List.copyOf(backends);
        this.backendSet = Set.copyOf(backends);
        this.unlisted = List.copyOf(unlisted);
    }

    /**
     * The backends one rewriting rule can send to: an address range (every address, for a REDIRECT reached on any
     * address) and ports.
     */
    private record Reach(long first, long last, List<PortRange> ports) {
        boolean covers(long address, int port) {
            if (address < first || address > last) {
                return false;
            }
            for (PortRange r : ports) {
                if (r.contains(port)) {
                    return true;
                }
            }
            return false;
        }
    }

    /** The listeners, sorted by port and then address (wildcard first). */
    public List<ListenAddress> addresses() {
        return addresses;
    }

    /** The paths that cannot be served, in the order of the rules. */
    public List<RuleError> errors() {
        return errors;
    }

    /**
     * The backends the paths can rewrite to, in the order of the rules: for DNAT each address of its range with
     * its port, or with each port the path listens on when it keeps the port; for REDIRECT the path's
     * {@code -d} host, when it has one, with the same ports. A rule that would name more than
     * {@value #MAX_BACKENDS_PER_RULE} backends, and a REDIRECT reached on any address, add none: what they
     * connect to is only known per connection.
     */
    public List<InetSocketAddress> backends() {
        return backends;
    }

    /**
     * Whether the paths can rewrite a connection to {@code backend}: one of {@link #backends()}, or within the
     * reach of a rule that names too many to list or a REDIRECT reached on any address.
     */
    public boolean reaches(InetSocketAddress backend) {
        if (backendSet.contains(backend)) {
            return true;
        }
        if (unlisted.isEmpty() || !(backend.getAddress() instanceof Inet4Address)) {
            return false;
        }
        long address = NatTable.ipv4(backend) & 0xFFFFFFFFL;
        for (Reach r : unlisted) {
            if (r.covers(address, backend.getPort())) {
                return true;
            }
        }
        return false;
    }

    /** Derives the TCP plan from the PREROUTING chain of {@code rules} and the chains it reaches. */
    public static ListenPlan of(Ruleset rules) {
        return of(rules, ProtocolMatch.TCP);
    }

    /** Derives the plan for {@code protocol} ({@link ProtocolMatch#TCP} or {@link ProtocolMatch#UDP}). */
    public static ListenPlan of(Ruleset rules, int protocol) {
        Map<String, Chain> chains = rules.byName();
        Walk walk = new Walk(chains, protocol);
        Chain prerouting = chains.get(NatTable.DECIDING_CHAIN);
        if (prerouting != null) {
            walk.walk(prerouting);
        }
        Set<Integer> wildcardPorts = new HashSet<>();
        for (ListenAddress a : walk.found) {
            if (a.isWildcard()) {
                wildcardPorts.add(a.port());
            }
        }
        TreeSet<ListenAddress> kept = new TreeSet<>();
        for (ListenAddress a : walk.found) {
            if (a.isWildcard() || !wildcardPorts.contains(a.port())) {
                kept.add(a);
            }
        }
        return new ListenPlan(new ArrayList<>(kept), new ArrayList<>(walk.errors), new ArrayList<>(walk.backends),
                walk.unlisted);
    }

    /** The depth-first walk over the rule paths; the path's constraints are stacks, pushed and popped per rule. */
    private static final class Walk {
        final Map<String, Chain> chains;
        final int protocol;
        final Set<ListenAddress> found = new HashSet<>();
        final Set<RuleError> errors = new LinkedHashSet<>();
        final Set<InetSocketAddress> backends = new LinkedHashSet<>();
        final List<Reach> unlisted = new ArrayList<>();
        /** The {@code -d} options on the path. */
        final ArrayDeque<AddressMatch> addresses = new ArrayDeque<>();
        /** The rules on the path, as chain and 0-based index, for error messages. */
        final ArrayDeque<Chain> pathChains = new ArrayDeque<>();
        final ArrayDeque<Integer> pathRules = new ArrayDeque<>();
        final Set<String> onPath = new HashSet<>();
        /**
         * The ways into a chain already walked: its name, the ports and the {@code -d} options the path
         * brought. A chain entered again the same way finds the same listeners, so it is not walked again:
         * without this, a table of a few hundred jumps between 15 chains has more paths than can be walked.
         * Only the first path to an error is named in it.
         */
        final Set<List<Object>> entered = new HashSet<>();

        Walk(Map<String, Chain> chains, int protocol) {
            this.chains = chains;
            this.protocol = protocol;
        }

        /**
         * Walks every rule path from {@code start}, with a stack of its own rather than the thread's, as the
         * input decides how deep jumps go. The set of chains on the path keeps a looping table from walking
         * forever.
         */
        void walk(Chain start) {
            ArrayDeque<Step> stack = new ArrayDeque<>();
            onPath.add(start.name());
            stack.push(new Step(start, null));
            while (!stack.isEmpty()) {
                Step step = stack.peek();
                if (step.inJump) {
                    step.inJump = false;
                    leaveRule(step.addsAddress);
                }
                List<Rule> rules = step.chain.rules();
                if (step.next == rules.size()) {
                    onPath.remove(step.chain.name());
                    stack.pop();
                    continue;
                }
                int i = step.next++;
                Rule rule = rules.get(i);
                Target target = rule.target();
                boolean rewrites = target instanceof DnatTarget || target instanceof RedirectTarget;
                if (!(rewrites || target instanceof JumpTarget) || !canMatch(rule, protocol)) {
                    continue;
                }
                List<PortRange> rulePorts = step.ports;
                for (Match match : rule.matches()) {
                    List<PortRange> required = destinationPorts(match);
                    if (required != null) {
                        rulePorts = rulePorts == null ? normalise(required) : intersect(rulePorts, required);
                    }
                }
                if (rulePorts != null && rulePorts.isEmpty()) {
                    continue;
                }
                boolean addsAddress = rule.destination() != null && !rule.destination().isAny();
                if (addsAddress) {
                    addresses.push(rule.destination());
                }
                pathChains.addLast(step.chain);
                pathRules.addLast(i);
                Chain to = rewrites ? null : chains.get(((JumpTarget) target).chain());
                if (rewrites) {
                    listen(rule, rulePorts);
                } else if (to != null && !onPath.contains(to.name())
                        && entered.add(List.of(to.name(), rulePorts == null ? List.of() : rulePorts,
                                List.copyOf(addresses)))) {
                    onPath.add(to.name());
                    // The rule stays on the path until the chain it jumps to is walked.
                    step.inJump = true;
                    step.addsAddress = addsAddress;
                    stack.push(new Step(to, rulePorts));
                    continue;
                }
                leaveRule(addsAddress);
            }
        }

        private void leaveRule(boolean addsAddress) {
            pathChains.removeLast();
            pathRules.removeLast();
            if (addsAddress) {
                addresses.pop();
            }
        }

        /** A chain on the path: the ports the path allows ({@code null} for any) and the next rule to try. */
        private static final class Step {
            final Chain chain;
            final List<PortRange> ports;
            int next;
            /** Whether rule {@code next - 1} jumped and its chain is being walked. */
            boolean inJump;
            boolean addsAddress;

            Step(Chain chain, List<PortRange> ports) {
                this.chain = chain;
                this.ports = ports;
            }
        }

        private String path() {
            List<String> labels = new ArrayList<>();
            var rules = pathRules.iterator();
            for (Chain c : pathChains) {
                labels.add(c.name() + ":" + (rules.next() + 1));
            }
            return String.join(" -> ", labels);
        }

        private void listen(Rule rule, List<PortRange> ports) {
            Integer host = null;
            for (AddressMatch a : addresses) {
                if (a.network().isHost() && !a.inverted()) {
                    host = a.network().address();
                    break;
                }
            }
            if (host != null) {
                for (AddressMatch a : addresses) {
                    if (!a.matches(host)) {
                        return; // the path's -d options contradict each other: nothing reaches the rule
                    }
                }
            }
            if (ports == null) {
                errors.add(new RuleError(rule.origin(), path() + ": " + targetName(rule)
                        + " of any destination port cannot be served by a userspace listener"
                        + " (expected: --dport or -m multiport --dports)"));
                return;
            }
            long count = 0;
            for (PortRange r : ports) {
                count += r.last() - r.first() + 1;
            }
            if (count > MAX_PORTS_PER_PATH) {
                errors.add(new RuleError(rule.origin(), path() + ": " + targetName(rule) + " of " + count
                        + " destination ports would need a listener each (expected: at most "
                        + MAX_PORTS_PER_PATH + ")"));
                return;
            }
            int address = host == null ? ListenAddress.WILDCARD : host;
            for (PortRange r : ports) {
                for (int p = r.first(); p <= r.last(); p++) {
                    found.add(new ListenAddress(address, p));
                }
            }
            backends(rule.target(), host, ports);
        }

        private void backends(Target target, Integer host, List<PortRange> listenPorts) {
            long first;
            long last;
            PortRange rewritten;
            if (target instanceof DnatTarget dnat) {
                long a = dnat.firstAddress() & 0xFFFFFFFFL;
                long b = dnat.lastAddress() & 0xFFFFFFFFL;
                first = Math.min(a, b);
                last = Math.max(a, b);
                rewritten = dnat.ports();
            } else {
                // REDIRECT sends to the address the connection came to: the path's -d host, or any address.
                first = host == null ? 0 : host & 0xFFFFFFFFL;
                last = host == null ? 0xFFFFFFFFL : first;
                rewritten = ((RedirectTarget) target).ports();
            }
            List<PortRange> ports = rewritten == null ? listenPorts : normalise(List.of(rewritten));
            long portCount = 0;
            for (PortRange r : ports) {
                portCount += r.last() - r.first() + 1;
            }
            if ((last - first + 1) * portCount > MAX_BACKENDS_PER_RULE) {
                unlisted.add(new Reach(first, last, ports));
                return;
            }
            for (long a = first; a <= last; a++) {
                for (PortRange r : ports) {
                    for (int p = r.first(); p <= r.last(); p++) {
                        backends.add(new InetSocketAddress(DestinationRewrite.inetAddress((int) a), p));
                    }
                }
            }
        }
    }

    private static String targetName(Rule rule) {
        return rule.target() instanceof DnatTarget ? "DNAT" : "REDIRECT";
    }

    /** Whether the parts of a rule that never change can hold for a connection of {@code protocol} with mark 0. */
    private static boolean canMatch(Rule rule, int protocol) {
        if (rule.protocol() != null && !rule.protocol().matches(protocol)) {
            return false;
        }
        for (Match match : rule.matches()) {
            if (match instanceof MarkMatch mark && !mark.matches(0)) {
                return false;
            }
        }
        return true;
    }

    /** The destination ports a match requires, or {@code null} when it does not restrict them. */
    private static List<PortRange> destinationPorts(Match match) {
        if (match instanceof PortMatch m && !m.destinationInverted() && !PortRange.ALL.equals(m.destinationPorts())) {
            return List.of(m.destinationPorts());
        }
        if (match instanceof MultiportMatch m && !m.inverted() && m.direction() == MultiportMatch.Direction.DESTINATION) {
            return m.ports();
        }
        return null;
    }

    /** Sorted, disjoint, merged ranges. */
    static List<PortRange> normalise(List<PortRange> ranges) {
        if (ranges.size() == 1 && ranges.get(0).first() <= ranges.get(0).last()) {
            return ranges; // the usual single --dport: already normal, nothing to allocate
        }
        List<PortRange> sorted = new ArrayList<>();
        for (PortRange r : ranges) {
            sorted.add(new PortRange(Math.min(r.first(), r.last()), Math.max(r.first(), r.last())));
        }
        sorted.sort((x, y) -> Integer.compare(x.first(), y.first()));
        List<PortRange> out = new ArrayList<>();
        for (PortRange r : sorted) {
            if (!out.isEmpty() && out.get(out.size() - 1).last() >= r.first() - 1) {
                PortRange last = out.remove(out.size() - 1);
                out.add(new PortRange(last.first(), Math.max(last.last(), r.last())));
            } else {
                out.add(r);
            }
        }
        return out;
    }

    static List<PortRange> intersect(List<PortRange> a, List<PortRange> b) {
        List<PortRange> nb = normalise(b);
        List<PortRange> out = new ArrayList<>();
        for (PortRange x : a) {
            for (PortRange y : nb) {
                int first = Math.max(x.first(), y.first());
                int last = Math.min(x.last(), y.last());
                if (first <= last) {
                    out.add(new PortRange(first, last));
                }
            }
        }
        return normalise(out);
    }
}
