package io.nthlb.admin;

import io.nthlb.rules.AddressMatch;
import io.nthlb.rules.Chain;
import io.nthlb.rules.Cidr;
import io.nthlb.rules.DnatTarget;
import io.nthlb.rules.Match;
import io.nthlb.rules.NthMatch;
import io.nthlb.rules.Origin;
import io.nthlb.rules.PortMatch;
import io.nthlb.rules.PortRange;
import io.nthlb.rules.ProtocolMatch;
import io.nthlb.rules.Rule;
import io.nthlb.rules.Ruleset;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * The seed's cascade on loopback, built as the parser would build it: for each VIP port,
 * {@code -A PREROUTING -d 127.0.0.1/32 -p tcp -m tcp --dport VIP -m statistic --mode nth --every N --packet 0
 * -j DNAT --to-destination BACKEND} with N counting down to 1 over the backends.
 */
final class SeedRules {

    private static final int LOOPBACK = 0x7F000001;

    private final List<Rule> prerouting = new ArrayList<>();

    /** Appends the cascade that spreads {@code vipPort} over {@code backends}. */
    SeedRules vip(int vipPort, InetSocketAddress... backends) {
        for (int i = 0; i < backends.length; i++) {
            List<Match> matches = List.of(
                    new PortMatch("tcp", PortRange.ALL, false, PortRange.of(vipPort), false),
                    new NthMatch(backends.length - i, 0, false));
            prerouting.add(new Rule("PREROUTING", AddressMatch.ANY, new AddressMatch(new Cidr(LOOPBACK, 32), false),
                    null, null, new ProtocolMatch(ProtocolMatch.TCP, false), matches,
                    new DnatTarget(LOOPBACK, LOOPBACK, PortRange.of(backends[i].getPort()), false, false),
                    new Origin("test.rules", prerouting.size() + 1)));
        }
        return this;
    }

    Ruleset build() {
        List<Chain> chains = new ArrayList<>();
        for (String name : Chain.BUILT_IN) {
            chains.add(new Chain(name, "ACCEPT", name.equals("PREROUTING") ? prerouting : List.of()));
        }
        return new Ruleset(chains);
    }
}
