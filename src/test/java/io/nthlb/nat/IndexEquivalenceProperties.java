package io.nthlb.nat;

import static io.nthlb.nat.RulesetBuilder.ip;
import static org.assertj.core.api.Assertions.assertThat;

import io.nthlb.rules.Chain;
import io.nthlb.rules.Ruleset;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/**
 * The indexed {@link NatTable} decides exactly as the plain {@link LinearWalk}: the same decisions in the
 * same order and the same counters, over random tables and random connection sequences. Both draw from
 * random sources with the same seed, so random matches agree only if both walks reach them in the same order.
 */
class IndexEquivalenceProperties {

    private static final String[] USER_CHAINS = {"U0", "U1", "U2", "U3"};
    private static final String[] DESTINATIONS = {"10.0.0.1", "10.0.0.2", "10.0.0.3"};
    private static final int[] PORTS = {80, 81, 82};
    private static final String[] SOURCES = {"192.168.0.1", "192.168.0.2", "172.16.0.1"};

    @Property(tries = 300)
    void indexedTableDecidesAsTheLinearWalk(@ForAll long tableSeed,
                                            @ForAll @IntRange(min = 1, max = 150) int connections) {
        Random random = new Random(tableSeed);
        Ruleset rules = randomTable(random);
        NatTable table = NatTable.compile(rules, null, RandomSource.seeded(tableSeed));
        LinearWalk reference = new LinearWalk(rules, RandomSource.seeded(tableSeed));
        for (int i = 0; i < connections; i++) {
            int clientIp = ip(SOURCES[random.nextInt(SOURCES.length)]);
            int localIp = ip(DESTINATIONS[random.nextInt(DESTINATIONS.length)]);
            int localPort = PORTS[random.nextInt(PORTS.length)];
            String expected = reference.decide(clientIp, 1024 + i, localIp, localPort);
            assertThat(table.decide(clientIp, 1024 + i, localIp, localPort).toString())
                    .as("connection %d in\n%s", i, rules).isEqualTo(expected);
        }
        for (Chain chain : rules.chains()) {
            for (int r = 0; r < chain.rules().size(); r++) {
                assertThat(table.counters(chain.name(), r).packets()).as("%s:%d in\n%s", chain.name(), r + 1, rules)
                        .isEqualTo(reference.packets(chain.name(), r));
            }
        }
        assertThat(table.policyCounters("PREROUTING").packets()).isEqualTo(reference.policyPackets());
    }

    /** A table over a small domain of addresses and ports, so that rules often overlap; jumps never loop. */
    static Ruleset randomTable(Random random) {
        RulesetBuilder builder = RulesetBuilder.table();
        for (String name : USER_CHAINS) {
            builder.chain(name);
        }
        String[] chains = {"PREROUTING", "U0", "U1", "U2", "U3"};
        for (int c = 0; c < chains.length; c++) {
            int lowestJump = c; // PREROUTING (0) may jump to U0 (index 0 of USER_CHAINS); Ui only to later ones.
            int count = random.nextInt(c == 0 ? 16 : 8);
            for (int n = 0; n < count; n++) {
                builder.append(chains[c], r -> randomRule(random, r, lowestJump));
            }
        }
        return builder.build();
    }

    private static void randomRule(Random random, RulesetBuilder.RuleSpec r, int lowestJump) {
        switch (random.nextInt(6)) {
            case 0 -> r.dst("10.0.0.1/32");
            case 1 -> r.dst("10.0.0.2/32");
            case 2 -> r.dst("10.0.0.0/30");
            case 3 -> r.notDst("10.0.0.1/32");
            default -> { }
        }
        switch (random.nextInt(6)) {
            case 0 -> r.src("192.168.0.0/24");
            case 1 -> r.notSrc("192.168.0.1/32");
            default -> { }
        }
        switch (random.nextInt(10)) {
            case 0 -> r.udp();
            case 1, 2, 3 -> r.tcp();
            default -> { }
        }
        int matches = random.nextInt(4);
        for (int m = 0; m < matches; m++) {
            switch (random.nextInt(11)) {
                case 0, 1 -> r.dport(80 + random.nextInt(2));
                case 2 -> r.dports(80, 81, false);
                case 3 -> r.notDport(80);
                case 4 -> r.multiportDports(80, 82);
                case 5, 6 -> {
                    int every = 1 + random.nextInt(4);
                    if (random.nextInt(4) == 0) {
                        r.notNth(every, random.nextInt(every));
                    } else {
                        r.nth(every, random.nextInt(every));
                    }
                }
                case 7 -> r.random(random.nextInt(5) / 4.0);
                case 8 -> r.mark(0x4000, 0x4000, random.nextBoolean());
                case 9 -> r.sport(1024 + random.nextInt(4));
                default -> r.comment("c");
            }
        }
        int jumpTargets = USER_CHAINS.length - lowestJump;
        switch (random.nextInt(12)) {
            case 0 -> { }
            case 1 -> r.dnat("10.1.0." + random.nextInt(4) + ":8080");
            case 2 -> r.dnat("10.1.0.5");
            case 3 -> r.dnat("10.2.0.1-10.2.0.7:9000-9003", random.nextBoolean(), random.nextBoolean());
            case 4 -> r.redirect("8081");
            case 5 -> r.accept();
            case 6 -> r.returns();
            case 7 -> r.markTarget();
            case 8 -> r.masquerade();
            default -> {
                if (jumpTargets <= 0) {
                    r.dnat("10.1.0.9:80");
                } else {
                    String to = USER_CHAINS[lowestJump + random.nextInt(jumpTargets)];
                    if (random.nextInt(3) == 0) {
                        r.goTo(to);
                    } else {
                        r.jump(to);
                    }
                }
            }
        }
    }
}
