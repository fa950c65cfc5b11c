package io.nthlb.nat;

import static io.nthlb.nat.RulesetBuilder.ip;
import static io.nthlb.nat.RulesetBuilder.table;
import static org.assertj.core.api.Assertions.assertThat;

import io.nthlb.rules.Ruleset;
import org.junit.jupiter.api.Test;

/** UDP flows decided by the same table as TCP connections: the UDP walk, the UDP listen plan, shared counters. */
class NatTableUdpTest {

    private static final int CLIENT = ip("192.168.0.10");
    private static final int VIP = ip("10.0.1.200");

    @Test
    void theUdpWalkSkipsTcpRulesAndTheTcpWalkSkipsUdpRules() {
        NatTable table = NatTable.compile(table()
                .append("PREROUTING", r -> r.tcp().dport(53).dnat("10.1.0.1"))
                .append("PREROUTING", r -> r.udp().dport(53).dnat("10.1.0.2"))
                .build());

        assertThat(table.decide(CLIENT, 40000, VIP, 53).toString()).isEqualTo("PREROUTING:1 -> 10.1.0.1:53");
        assertThat(table.decideUdp(CLIENT, 40000, VIP, 53).toString()).isEqualTo("PREROUTING:2 -> 10.1.0.2:53");
        assertThat(table.counters("PREROUTING", 0).packets()).isEqualTo(1);
        assertThat(table.counters("PREROUTING", 1).packets()).isEqualTo(1);
    }

    @Test
    void anNthRuleWithoutAProtocolCountsTcpAndUdpInOneSequence() {
        // The kernel's nth counter is the rule's: a TCP connection and a UDP flow each take a turn.
        NatTable table = NatTable.compile(table()
                .append("PREROUTING", r -> r.dst("10.0.1.200/32").nth(2, 0).dnat("10.1.0.1"))
                .append("PREROUTING", r -> r.dst("10.0.1.200/32").dnat("10.1.0.2"))
                .append("PREROUTING", r -> r.udp().dport(53).accept())
                .build());

        assertThat(table.decide(CLIENT, 40000, VIP, 80).toString()).isEqualTo("PREROUTING:1 -> 10.1.0.1:80");
        assertThat(table.decideUdp(CLIENT, 40001, VIP, 53).toString()).isEqualTo("PREROUTING:2 -> 10.1.0.2:53");
        assertThat(table.decideUdp(CLIENT, 40002, VIP, 53).toString()).isEqualTo("PREROUTING:1 -> 10.1.0.1:53");
        assertThat(table.decide(CLIENT, 40003, VIP, 80).toString()).isEqualTo("PREROUTING:2 -> 10.1.0.2:80");
        assertThat(table.counters("PREROUTING", 0).packets()).isEqualTo(2);
        assertThat(table.counters("PREROUTING", 1).packets()).isEqualTo(2);
    }

    @Test
    void aTableWithoutUdpListenersStillDecidesUdpAndCountsThePolicy() {
        NatTable table = NatTable.compile(NatTableTest.seed());

        assertThat(table.udpListenAddresses()).isEmpty();
        assertThat(table.decideUdp(CLIENT, 40000, VIP, 80).label()).isEqualTo("PREROUTING policy ACCEPT");
        assertThat(table.policyCounters("PREROUTING").packets()).isEqualTo(1);
        assertThat(table.counters("PREROUTING", 0).packets()).isZero();
    }

    @Test
    void aReloadKeepsTheUdpNthPositionOfAnUnchangedRule() {
        Ruleset rules = udpSeed();
        NatTable before = NatTable.compile(rules);
        assertThat(before.decideUdp(CLIENT, 40000, VIP, 53).toString()).isEqualTo("PREROUTING:1 -> 172.16.1.201:53");

        NatTable after = NatTable.compile(rules, before);

        assertThat(after.decideUdp(CLIENT, 40001, VIP, 53).toString()).isEqualTo("PREROUTING:2 -> 172.16.1.202:53");
        assertThat(after.counters("PREROUTING", 0).packets()).isEqualTo(1);
        assertThat(after.counters("PREROUTING", 1).packets()).isEqualTo(1);
    }

    @Test
    void theUdpListenPlanFollowsUdpPathsAndTheTcpPlanTcpOnes() {
        NatTable table = NatTable.compile(table()
                .append("PREROUTING", r -> r.dst("10.0.1.200/32").tcp().dport(80).dnat("10.1.0.1"))
                .append("PREROUTING", r -> r.dst("10.0.1.200/32").udp().dport(53).dnat("10.1.0.2"))
                .append("PREROUTING", r -> r.udp().multiportDports(123, 514).jump("FANOUT"))
                .append("FANOUT", r -> r.nth(2, 0).dnat("10.1.0.3"))
                .append("FANOUT", r -> r.dnat("10.1.0.4"))
                .build());

        assertThat(table.listenAddresses()).containsExactly(new ListenAddress(VIP, 80));
        assertThat(table.udpListenAddresses()).containsExactly(new ListenAddress(VIP, 53),
                new ListenAddress(ListenAddress.WILDCARD, 123), new ListenAddress(ListenAddress.WILDCARD, 514));
        assertThat(table.listenErrors()).isEmpty();
    }

    @Test
    void aUdpRewriteOfEveryPortIsAnErrorNamedOnce() {
        NatTable table = NatTable.compile(table()
                .append("PREROUTING", r -> r.dst("10.0.1.200/32").udp().dnat("10.1.0.2"))
                .append("PREROUTING", r -> r.dst("10.0.1.201/32").dnat("10.1.0.3"))
                .build());

        assertThat(table.listenErrors()).hasSize(2);
        assertThat(table.listenErrors().get(0).toString()).contains("PREROUTING:1: DNAT of any destination port");
        assertThat(table.listenErrors().get(1).toString()).contains("PREROUTING:2: DNAT of any destination port");
    }

    /** The seed with {@code -p udp --dport 53}. */
    static Ruleset udpSeed() {
        return table()
                .append("PREROUTING", r -> r.dst("10.0.1.200/32").udp().dport(53).nth(2, 0).dnat("172.16.1.201:53"))
                .append("PREROUTING", r -> r.dst("10.0.1.200/32").udp().dport(53).nth(1, 0).dnat("172.16.1.202:53"))
                .build();
    }
}
