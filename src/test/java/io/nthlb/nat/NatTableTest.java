package io.nthlb.nat;

import static io.nthlb.nat.RulesetBuilder.ip;
import static io.nthlb.nat.RulesetBuilder.table;
import static org.assertj.core.api.Assertions.assertThat;

import io.nthlb.rules.Ruleset;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class NatTableTest {

    private static final int CLIENT = ip("192.168.0.10");
    private static final int VIP = ip("10.0.1.200");

    /** The seed: two nth rules alternating over two backends. */
    static Ruleset seed() {
        return table()
                .append("PREROUTING", r -> r.dst("10.0.1.200/32").dport(80).nth(2, 0).dnat("172.16.1.201:80"))
                .append("PREROUTING", r -> r.dst("10.0.1.200/32").dport(80).nth(1, 0).dnat("172.16.1.202:80"))
                .build();
    }

    private static List<String> destinations(NatTable table, int n, int localIp, int localPort) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(table.decide(CLIENT, 40000 + i, localIp, localPort).toString());
        }
        return out;
    }

    @Test
    void seedAlternatesBetweenTwoBackends() {
        NatTable table = NatTable.compile(seed());
        assertThat(destinations(table, 4, VIP, 80)).containsExactly(
                "PREROUTING:1 -> 172.16.1.201:80", "PREROUTING:2 -> 172.16.1.202:80",
                "PREROUTING:1 -> 172.16.1.201:80", "PREROUTING:2 -> 172.16.1.202:80");
        assertThat(table.counters("PREROUTING", 0).packets()).isEqualTo(2);
        assertThat(table.counters("PREROUTING", 1).packets()).isEqualTo(2);
        assertThat(table.policyCounters("PREROUTING").packets()).isZero();
    }

    @Test
    void connectionToAnotherPortFallsOffToThePolicyAndLeavesNthCountersAlone() {
        NatTable table = NatTable.compile(seed());
        Decision d = table.decide(CLIENT, 40000, VIP, 443);
        assertThat(d.isNat()).isFalse();
        assertThat(d.destination()).isNull();
        assertThat(d.policy()).isEqualTo("ACCEPT");
        assertThat(d.label()).isEqualTo("PREROUTING policy ACCEPT");
        assertThat(table.policyCounters("PREROUTING").packets()).isEqualTo(1);
        // The nth counter did not move: the next connection to port 80 is still the first one.
        assertThat(table.decide(CLIENT, 40001, VIP, 80).label()).isEqualTo("PREROUTING:1");
    }
}
