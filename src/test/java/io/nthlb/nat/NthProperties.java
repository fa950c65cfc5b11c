package io.nthlb.nat;

import static io.nthlb.nat.RulesetBuilder.ip;
import static io.nthlb.nat.RulesetBuilder.table;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/** The nth law of docs/semantics.md ("The nth counter"), checked on the compiled table. */
class NthProperties {

    private static final int CLIENT = ip("192.168.0.10");
    private static final int VIP = ip("10.0.1.200");
    private static final int OTHER_VIP = ip("10.0.1.201");

    @Property
    void connectionIMatchesWhenIModNEqualsP(@ForAll @IntRange(min = 1, max = 20) int every,
                                            @ForAll @IntRange(min = 0, max = 19) int packetSeed,
                                            @ForAll boolean inverted,
                                            @ForAll @IntRange(min = 1, max = 120) int connections) {
        int packet = packetSeed % every;
        NatTable table = NatTable.compile(table()
                .append("PREROUTING", r -> {
                    r.dport(80);
                    if (inverted) {
                        r.notNth(every, packet);
                    } else {
                        r.nth(every, packet);
                    }
                    r.dnat("10.1.0.1");
                })
                .build());
        for (int i = 0; i < connections; i++) {
            boolean expected = (i % every == packet) != inverted;
            assertThat(table.decide(CLIENT, 1024 + i, VIP, 80).isNat()).as("connection %d", i).isEqualTo(expected);
        }
    }

    @Property
    void cascadeOfKRulesSplitsExactlyEvenly(@ForAll @IntRange(min = 1, max = 10) int k,
                                             @ForAll @IntRange(min = 1, max = 30) int rounds) {
        RulesetBuilder builder = table();
        for (int j = 0; j < k; j++) {
            int backend = j + 1;
            int every = k - j;
            builder.append("PREROUTING", r -> r.dst("10.0.1.200/32").dport(80).nth(every, 0)
                    .dnat("172.16.1." + backend + ":80"));
        }
        NatTable table = NatTable.compile(builder.build());
        for (int i = 0; i < k * rounds; i++) {
            Decision d = table.decide(CLIENT, 1024 + i, VIP, 80);
            // Round-robin in rule order: connection i goes to backend (i mod k) + 1.
            assertThat(d.label()).isEqualTo("PREROUTING:" + (i % k + 1));
        }
        for (int j = 0; j < k; j++) {
            assertThat(table.counters("PREROUTING", j).packets()).isEqualTo(rounds);
        }
        assertThat(table.policyCounters("PREROUTING").packets()).isZero();
    }

    /**
     * Connections to another address or port fail {@code -d} or {@code --dport} before the statistic match,
     * so they must not move its counter; a statistic match written before {@code --dport} sees them all.
     */
    @Property
    void counterMovesOnlyForConnectionsThatReachTheMatch(@ForAll @IntRange(min = 1, max = 6) int every,
                                                          @ForAll @IntRange(min = 0, max = 5) int packetSeed,
                                                          @ForAll @Size(min = 1, max = 80) List<@IntRange(min = 0, max = 2) Integer> kinds) {
        int packet = packetSeed % every;
        NatTable table = NatTable.compile(table()
                .append("PREROUTING", r -> r.dst("10.0.1.200/32").dport(80).nth(every, packet).dnat("10.1.0.1"))
                .append("PREROUTING", r -> r.dst("10.0.1.201/32").nth(every, packet).dport(80).dnat("10.1.0.2"))
                .append("PREROUTING", r -> r.dnat("10.1.0.9"))
                .build());
        long reachedFirst = 0;
        long reachedSecond = 0;
        for (int i = 0; i < kinds.size(); i++) {
            int kind = kinds.get(i);
            int localIp = kind == 2 ? OTHER_VIP : VIP;
            int localPort = kind == 1 ? 81 : 80;
            Decision d = table.decide(CLIENT, 1024 + i, localIp, localPort);
            String expected;
            if (localIp == VIP && localPort == 80) {
                expected = reachedFirst++ % every == packet ? "PREROUTING:1" : "PREROUTING:3";
            } else if (localIp == OTHER_VIP) {
                // The statistic is tested before --dport, so it counts this connection whatever its port.
                boolean nth = reachedSecond++ % every == packet;
                expected = nth && localPort == 80 ? "PREROUTING:2" : "PREROUTING:3";
            } else {
                expected = "PREROUTING:3";
            }
            assertThat(d.label()).as("connection %d", i).isEqualTo(expected);
        }
    }
}
