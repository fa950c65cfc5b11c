package io.nthlb.nat;

import io.nthlb.rules.AddressMatch;
import io.nthlb.rules.Chain;
import io.nthlb.rules.Cidr;
import io.nthlb.rules.CommentMatch;
import io.nthlb.rules.DnatTarget;
import io.nthlb.rules.JumpTarget;
import io.nthlb.rules.MarkMatch;
import io.nthlb.rules.MarkTarget;
import io.nthlb.rules.MasqueradeTarget;
import io.nthlb.rules.Match;
import io.nthlb.rules.MultiportMatch;
import io.nthlb.rules.NthMatch;
import io.nthlb.rules.Origin;
import io.nthlb.rules.PortMatch;
import io.nthlb.rules.PortRange;
import io.nthlb.rules.ProtocolMatch;
import io.nthlb.rules.RandomMatch;
import io.nthlb.rules.RedirectTarget;
import io.nthlb.rules.Rule;
import io.nthlb.rules.Ruleset;
import io.nthlb.rules.Target;
import io.nthlb.rules.VerdictTarget;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Builds {@link Ruleset}s in tests without the parser, in the normalised form the parser produces: each rule
 * gets the origin {@code test.rules:N}, N counting rules in the order they are appended.
 */
final class RulesetBuilder {

    static final String FILE = "test.rules";

    private final Map<String, String> policies = new LinkedHashMap<>();
    private final Map<String, List<Rule>> rules = new LinkedHashMap<>();
    private int line;

    RulesetBuilder() {
        for (String name : Chain.BUILT_IN) {
            policies.put(name, "ACCEPT");
            rules.put(name, new ArrayList<>());
        }
    }

    static RulesetBuilder table() {
        return new RulesetBuilder();
    }

    /** {@code -N name}. */
    RulesetBuilder chain(String name) {
        rules.computeIfAbsent(name, k -> new ArrayList<>());
        return this;
    }

    /** {@code -A chain ...}; creates a user chain on first use. */
    RulesetBuilder append(String chain, Consumer<RuleSpec> spec) {
        RuleSpec r = new RuleSpec();
        spec.accept(r);
        line++;
        rules.computeIfAbsent(chain, k -> new ArrayList<>()).add(r.build(chain, new Origin(FILE, line)));
        return this;
    }

    Ruleset build() {
        List<Chain> chains = new ArrayList<>();
        for (String name : Chain.BUILT_IN) {
            chains.add(new Chain(name, policies.get(name), rules.get(name)));
        }
        rules.keySet().stream().filter(n -> !Chain.BUILT_IN.contains(n)).sorted()
                .forEach(n -> chains.add(new Chain(n, null, rules.get(n))));
        return new Ruleset(chains);
    }

    /** The options of one rule. */
    static final class RuleSpec {
        private AddressMatch source = AddressMatch.ANY;
        private AddressMatch destination = AddressMatch.ANY;
        private ProtocolMatch protocol;
        private final List<Match> matches = new ArrayList<>();
        private Target target;

        RuleSpec src(String cidr) {
            source = new AddressMatch(cidr(cidr), false);
            return this;
        }

        RuleSpec notSrc(String cidr) {
            source = new AddressMatch(cidr(cidr), true);
            return this;
        }

        RuleSpec dst(String cidr) {
            destination = new AddressMatch(cidr(cidr), false);
            return this;
        }

        RuleSpec notDst(String cidr) {
            destination = new AddressMatch(cidr(cidr), true);
            return this;
        }

        RuleSpec tcp() {
            protocol = new ProtocolMatch(ProtocolMatch.TCP, false);
            return this;
        }

        RuleSpec udp() {
            protocol = new ProtocolMatch(ProtocolMatch.UDP, false);
            return this;
        }

        /** {@code -p tcp -m tcp --dport P} (adds {@code -p tcp} when absent), or {@code -m udp} after {@link #udp()}. */
        RuleSpec dport(int port) {
            return dports(port, port, false);
        }

        RuleSpec notDport(int port) {
            return dports(port, port, true);
        }

        RuleSpec dports(int first, int last, boolean inverted) {
            if (protocol == null) {
                tcp();
            }
            matches.add(new PortMatch(module(), PortRange.ALL, false, new PortRange(first, last), inverted));
            return this;
        }

        RuleSpec sport(int port) {
            if (protocol == null) {
                tcp();
            }
            matches.add(new PortMatch(module(), PortRange.of(port), false, PortRange.ALL, false));
            return this;
        }

        /** The port match's module: {@code udp} after {@link #udp()}, else {@code tcp}. */
        private String module() {
            return protocol.number() == ProtocolMatch.UDP ? "udp" : "tcp";
        }

        RuleSpec multiportDports(int... ports) {
            List<PortRange> ranges = new ArrayList<>();
            for (int p : ports) {
                ranges.add(PortRange.of(p));
            }
            matches.add(new MultiportMatch(MultiportMatch.Direction.DESTINATION, ranges, false));
            return this;
        }

        RuleSpec nth(long every, long packet) {
            matches.add(new NthMatch(every, packet, false));
            return this;
        }

        RuleSpec notNth(long every, long packet) {
            matches.add(new NthMatch(every, packet, true));
            return this;
        }

        RuleSpec random(double probability) {
            matches.add(new RandomMatch(Math.round(probability * (1L << 31)), false));
            return this;
        }

        RuleSpec comment(String text) {
            matches.add(new CommentMatch(text));
            return this;
        }

        RuleSpec mark(long value, long mask, boolean inverted) {
            matches.add(new MarkMatch(value, mask, inverted));
            return this;
        }

        /** {@code -j DNAT --to-destination} in iptables' syntax: {@code A[-A2][:P[-P2]]}. */
        RuleSpec dnat(String to) {
            return dnat(to, false, false);
        }

        RuleSpec dnat(String to, boolean random, boolean persistent) {
            String addresses = to;
            PortRange ports = null;
            int colon = to.indexOf(':');
            if (colon >= 0) {
                addresses = to.substring(0, colon);
                ports = range(to.substring(colon + 1), "-");
            }
            int dash = addresses.indexOf('-');
            int first = ip(dash < 0 ? addresses : addresses.substring(0, dash));
            int last = dash < 0 ? first : ip(addresses.substring(dash + 1));
            target = new DnatTarget(first, last, ports, random, persistent);
            return this;
        }

        RuleSpec redirect(String ports) {
            target = new RedirectTarget(ports == null ? null : range(ports, "-"), false);
            return this;
        }

        RuleSpec jump(String chain) {
            target = new JumpTarget(chain, false);
            return this;
        }

        RuleSpec goTo(String chain) {
            target = new JumpTarget(chain, true);
            return this;
        }

        RuleSpec accept() {
            target = new VerdictTarget(VerdictTarget.Verdict.ACCEPT);
            return this;
        }

        RuleSpec returns() {
            target = new VerdictTarget(VerdictTarget.Verdict.RETURN);
            return this;
        }

        /** {@code -j MARK --set-xmark 0x4000/0x4000}: does not end the walk. */
        RuleSpec markTarget() {
            target = new MarkTarget(0x4000, 0x4000);
            return this;
        }

        /** {@code -j MASQUERADE}: ends the walk without NAT. */
        RuleSpec masquerade() {
            target = new MasqueradeTarget(null, false, false);
            return this;
        }

        Rule build(String chain, Origin origin) {
            return new Rule(chain, source, destination, null, null, protocol, matches, target, origin);
        }
    }

    static Cidr cidr(String text) {
        int slash = text.indexOf('/');
        return slash < 0 ? new Cidr(ip(text), 32)
                : new Cidr(ip(text.substring(0, slash)), Integer.parseInt(text.substring(slash + 1)));
    }

    static int ip(String dotted) {
        String[] parts = dotted.split("\\.");
        int ip = 0;
        for (String part : parts) {
            ip = ip << 8 | Integer.parseInt(part);
        }
        return ip;
    }

    private static PortRange range(String text, String separator) {
        int sep = text.indexOf(separator);
        return sep < 0 ? PortRange.of(Integer.parseInt(text))
                : new PortRange(Integer.parseInt(text.substring(0, sep)), Integer.parseInt(text.substring(sep + 1)));
    }
}
