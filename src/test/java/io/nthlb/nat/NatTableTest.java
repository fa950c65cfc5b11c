package io.nthlb.nat;

import static io.nthlb.nat.RulesetBuilder.ip;
import static io.nthlb.nat.RulesetBuilder.table;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nthlb.rules.Ruleset;
import java.net.InetSocketAddress;
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

    private static List<String> decide(NatTable table, int n, int localIp, int localPort) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(table.decide(CLIENT, 40000 + i, localIp, localPort).toString());
        }
        return out;
    }

    private static String decideOne(NatTable table) {
        return table.decide(CLIENT, 40000, VIP, 80).toString();
    }

    @Test
    void seedAlternatesBetweenTwoBackends() {
        NatTable table = NatTable.compile(seed());
        assertThat(decide(table, 4, VIP, 80)).containsExactly(
                "PREROUTING:1 -> 172.16.1.201:80", "PREROUTING:2 -> 172.16.1.202:80",
                "PREROUTING:1 -> 172.16.1.201:80", "PREROUTING:2 -> 172.16.1.202:80");
        assertThat(table.counters("PREROUTING", 0).packets()).isEqualTo(2);
        assertThat(table.counters("PREROUTING", 1).packets()).isEqualTo(2);
        assertThat(table.policyCounters("PREROUTING").packets()).isZero();
    }

    @Test
    void decisionExposesDestinationRuleAndLabel() {
        NatTable table = NatTable.compile(seed());
        Decision d = table.decide(new InetSocketAddress("192.168.0.10", 40000), new InetSocketAddress("10.0.1.200", 80));
        assertThat(d.isNat()).isTrue();
        assertThat(d.destination()).isEqualTo(new InetSocketAddress("172.16.1.201", 80));
        assertThat(d.verdict()).isNull();
        assertThat(d.label()).isEqualTo("PREROUTING:1");
        assertThat(d.rule()).isEqualTo(seed().chain("PREROUTING").rules().get(0));
    }

    @Test
    void connectionToAnotherPortFallsOffToThePolicyAndLeavesNthCountersAlone() {
        NatTable table = NatTable.compile(seed());
        Decision d = table.decide(CLIENT, 40000, VIP, 443);
        assertThat(d.isNat()).isFalse();
        assertThat(d.destination()).isNull();
        assertThat(d.verdict()).isEqualTo("ACCEPT");
        assertThat(d.label()).isEqualTo("PREROUTING policy ACCEPT");
        assertThat(d.rule()).isNull();
        assertThat(table.policyCounters("PREROUTING").packets()).isEqualTo(1);
        assertThat(table.counters("PREROUTING", 0).packets()).isZero();
        // The nth counter did not move: the next connection to port 80 is still the first one.
        assertThat(decideOne(table)).isEqualTo("PREROUTING:1 -> 172.16.1.201:80");
    }

    @Test
    void jumpToAChainThatFallsOffContinuesWithTheNextRule() {
        NatTable table = NatTable.compile(table()
                .append("PREROUTING", r -> r.jump("CHECK"))
                .append("PREROUTING", r -> r.dport(80).dnat("10.1.0.1"))
                .append("CHECK", r -> r.dport(81).dnat("10.9.9.9"))
                .append("CHECK", r -> r.comment("counts only"))
                .build());
        assertThat(decideOne(table)).isEqualTo("PREROUTING:2 -> 10.1.0.1:80");
        assertThat(table.counters("PREROUTING", 0).packets()).isEqualTo(1);
        assertThat(table.counters("CHECK", 0).packets()).isZero();
        assertThat(table.counters("CHECK", 1).packets()).isEqualTo(1);
    }

    @Test
    void ruleInAUserChainIsLabelledWithItsOwnChain() {
        NatTable table = NatTable.compile(table()
                .append("PREROUTING", r -> r.dst("10.0.1.200/32").jump("KUBE-SVC-A"))
                .append("KUBE-SVC-A", r -> r.jump("KUBE-SEP-ABC"))
                .append("KUBE-SEP-ABC", r -> r.src("10.2.0.5/32").jump("KUBE-MARK-MASQ"))
                .append("KUBE-SEP-ABC", r -> r.tcp().dnat("10.2.0.5:8080"))
                .append("KUBE-MARK-MASQ", r -> r.markTarget())
                .build());
        assertThat(decideOne(table)).isEqualTo("KUBE-SEP-ABC:2 -> 10.2.0.5:8080");
    }

    @Test
    void returnComesBackToTheRuleAfterTheJump() {
        NatTable table = NatTable.compile(table()
                .append("PREROUTING", r -> r.jump("A"))
                .append("PREROUTING", r -> r.dnat("10.1.0.2:80"))
                .append("A", r -> r.dport(80).returns())
                .append("A", r -> r.dnat("10.1.0.1:80"))
                .build());
        assertThat(decideOne(table)).isEqualTo("PREROUTING:2 -> 10.1.0.2:80");
        assertThat(table.decide(CLIENT, 40000, VIP, 81).toString()).isEqualTo("A:2 -> 10.1.0.1:80");
    }

    @Test
    void returnFromAGotoChainReturnsPastTheCaller() {
        NatTable table = NatTable.compile(table()
                .append("PREROUTING", r -> r.jump("A"))
                .append("PREROUTING", r -> r.dnat("10.1.0.9:80"))
                .append("A", r -> r.goTo("B"))
                .append("A", r -> r.dnat("10.1.0.1:80"))
                .append("B", r -> r.returns())
                .build());
        // B's RETURN goes back to where A was called from, so A:2 is never reached.
        assertThat(decideOne(table)).isEqualTo("PREROUTING:2 -> 10.1.0.9:80");
        assertThat(table.counters("A", 1).packets()).isZero();
    }

    @Test
    void fallingOffAGotoChainReturnsPastTheCallerToo() {
        NatTable table = NatTable.compile(table()
                .append("PREROUTING", r -> r.jump("A"))
                .append("PREROUTING", r -> r.dnat("10.1.0.9:80"))
                .append("A", r -> r.goTo("B"))
                .append("A", r -> r.dnat("10.1.0.1:80"))
                .chain("B")
                .build());
        assertThat(decideOne(table)).isEqualTo("PREROUTING:2 -> 10.1.0.9:80");
    }

    @Test
    void gotoFromPreroutingThatReturnsAppliesThePolicy() {
        NatTable table = NatTable.compile(table()
                .append("PREROUTING", r -> r.goTo("A"))
                .append("PREROUTING", r -> r.dnat("10.1.0.9:80"))
                .append("A", r -> r.returns())
                .build());
        assertThat(decideOne(table)).isEqualTo("PREROUTING policy ACCEPT");
        assertThat(table.policyCounters("PREROUTING").packets()).isEqualTo(1);
    }

    @Test
    void returnInPreroutingAppliesThePolicy() {
        NatTable table = NatTable.compile(table()
                .append("PREROUTING", r -> r.returns())
                .append("PREROUTING", r -> r.dnat("10.1.0.9:80"))
                .build());
        assertThat(decideOne(table)).isEqualTo("PREROUTING policy ACCEPT");
        assertThat(table.counters("PREROUTING", 0).packets()).isEqualTo(1);
        assertThat(table.counters("PREROUTING", 1).packets()).isZero();
    }

    @Test
    void acceptEndsTheWalkWithoutNat() {
        NatTable table = NatTable.compile(table()
                .append("PREROUTING", r -> r.src("192.168.0.0/24").accept())
                .append("PREROUTING", r -> r.dnat("10.1.0.9:80"))
                .build());
        Decision d = table.decide(CLIENT, 40000, VIP, 80);
        assertThat(d.isNat()).isFalse();
        assertThat(d.verdict()).isEqualTo("ACCEPT");
        assertThat(d.label()).isEqualTo("PREROUTING:1");
        assertThat(table.decide(ip("192.168.1.1"), 40000, VIP, 80).toString()).isEqualTo("PREROUTING:2 -> 10.1.0.9:80");
    }

    @Test
    void markTargetContinuesAndMasqueradeEnds() {
        NatTable table = NatTable.compile(table()
                .append("PREROUTING", r -> r.markTarget())
                .append("PREROUTING", r -> r.dport(81).masquerade())
                .append("PREROUTING", r -> r.dnat("10.1.0.9"))
                .build());
        assertThat(decideOne(table)).isEqualTo("PREROUTING:3 -> 10.1.0.9:80");
        assertThat(table.decide(CLIENT, 40000, VIP, 81).toString()).isEqualTo("PREROUTING:2 ACCEPT");
        assertThat(table.counters("PREROUTING", 0).packets()).isEqualTo(2);
    }

    @Test
    void markMatchSeesMarkZero() {
        NatTable table = NatTable.compile(table()
                .append("PREROUTING", r -> r.mark(0x4000, 0x4000, false).dnat("10.1.0.1"))
                .append("PREROUTING", r -> r.mark(0x4000, 0x4000, true).dnat("10.1.0.2"))
                .build());
        assertThat(decideOne(table)).isEqualTo("PREROUTING:2 -> 10.1.0.2:80");
    }

    @Test
    void ruleForAnotherProtocolNeverMatches() {
        NatTable table = NatTable.compile(table()
                .append("PREROUTING", r -> r.udp().dnat("10.1.0.1"))
                .append("PREROUTING", r -> r.tcp().dnat("10.1.0.2"))
                .build());
        assertThat(decideOne(table)).isEqualTo("PREROUTING:2 -> 10.1.0.2:80");
    }

    @Test
    void negatedAddressAndPortOptionsInvert() {
        NatTable table = NatTable.compile(table()
                .append("PREROUTING", r -> r.notDst("10.0.1.200/32").dnat("10.1.0.1"))
                .append("PREROUTING", r -> r.notSrc("192.168.0.0/16").dnat("10.1.0.2"))
                .append("PREROUTING", r -> r.notDport(80).dnat("10.1.0.3"))
                .append("PREROUTING", r -> r.dnat("10.1.0.4"))
                .build());
        assertThat(decideOne(table)).isEqualTo("PREROUTING:4 -> 10.1.0.4:80");
        assertThat(table.decide(CLIENT, 40000, VIP, 81).toString()).isEqualTo("PREROUTING:3 -> 10.1.0.3:81");
        assertThat(table.decide(ip("172.16.0.1"), 40000, VIP, 80).toString()).isEqualTo("PREROUTING:2 -> 10.1.0.2:80");
        assertThat(table.decide(CLIENT, 40000, ip("10.0.1.201"), 80).toString()).isEqualTo("PREROUTING:1 -> 10.1.0.1:80");
    }

    @Test
    void redirectSendsToTheLocalAddress() {
        NatTable table = NatTable.compile(table()
                .append("PREROUTING", r -> r.dport(80).redirect("8080"))
                .append("PREROUTING", r -> r.dport(81).redirect(null))
                .build());
        assertThat(decideOne(table)).isEqualTo("PREROUTING:1 -> 10.0.1.200:8080");
        assertThat(table.decide(CLIENT, 40000, VIP, 81).toString()).isEqualTo("PREROUTING:2 -> 10.0.1.200:81");
    }

    @Test
    void dnatWithoutPortKeepsTheAskedForPort() {
        NatTable table = NatTable.compile(table().append("PREROUTING", r -> r.dnat("10.1.0.1")).build());
        assertThat(table.decide(CLIENT, 40000, VIP, 8443).destination())
                .isEqualTo(new InetSocketAddress("10.1.0.1", 8443));
    }

    @Test
    void dnatPortRangeKeepsAnAskedForPortInsideAndTakesTheFirstOtherwise() {
        NatTable table = NatTable.compile(table().append("PREROUTING", r -> r.dnat("10.1.0.1:8080-8090")).build());
        assertThat(table.decide(CLIENT, 40000, VIP, 8085).destination().getPort()).isEqualTo(8085);
        assertThat(table.decide(CLIENT, 40001, VIP, 80).destination().getPort()).isEqualTo(8080);
    }

    @Test
    void dnatRandomPortRangeStaysInTheRange() {
        NatTable table = NatTable.compile(table().append("PREROUTING", r -> r.dnat("10.1.0.1:8080-8083", true, false))
                .build(), null, RandomSource.seeded(1));
        List<Integer> ports = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            ports.add(table.decide(CLIENT, 40000 + i, VIP, 8081).destination().getPort());
        }
        assertThat(ports).allMatch(p -> p >= 8080 && p <= 8083).contains(8080, 8081, 8082, 8083);
    }

    @Test
    void addBytesCreditsTheJumpRulesAndTheDecidingRuleOnly() {
        NatTable table = NatTable.compile(table()
                .append("PREROUTING", r -> r.dport(443).dnat("10.1.0.1"))
                .append("PREROUTING", r -> r.jump("SVC"))
                .append("SVC", r -> r.comment("no target"))
                .append("SVC", r -> r.dnat("10.1.0.2"))
                .append("SVC", r -> r.dnat("10.1.0.3"))
                .build());
        Decision d = table.decide(CLIENT, 40000, VIP, 80);
        d.addBytes(100);
        d.addBytes(23);
        assertThat(table.counters("PREROUTING", 0).bytes()).isZero();
        assertThat(table.counters("PREROUTING", 1).bytes()).isEqualTo(123);
        assertThat(table.counters("SVC", 0).bytes()).isEqualTo(123);
        assertThat(table.counters("SVC", 1).bytes()).isEqualTo(123);
        assertThat(table.counters("SVC", 2).bytes()).isZero();
        assertThat(table.policyCounters("PREROUTING").bytes()).isZero();
    }

    @Test
    void aChainTwoRulesJumpToCreditsTheJumpEachConnectionTook() {
        NatTable table = NatTable.compile(table()
                .append("PREROUTING", r -> r.dport(80).jump("SVC"))
                .append("PREROUTING", r -> r.dport(81).jump("SVC"))
                .append("SVC", r -> r.dnat("10.1.0.2:8080"))
                .build());
        // The same fixed DNAT each time, reached by two paths: the second decision is not the first one again.
        table.decide(CLIENT, 40000, VIP, 80).addBytes(10);
        table.decide(CLIENT, 40001, VIP, 81).addBytes(1);
        table.decide(CLIENT, 40002, VIP, 81).addBytes(1);
        assertThat(table.counters("PREROUTING", 0).bytes()).isEqualTo(10);
        assertThat(table.counters("PREROUTING", 1).bytes()).isEqualTo(2);
        assertThat(table.counters("SVC", 0).bytes()).isEqualTo(12);
        assertThat(table.counters("PREROUTING", 1).packets()).isEqualTo(2);
    }

    @Test
    void aDecisionOnOnePathAfterARuleWithoutTargetCreditsThatRuleToo() {
        NatTable table = NatTable.compile(table()
                .append("PREROUTING", r -> r.jump("SVC"))
                .append("SVC", r -> r.sport(40001).comment("no target"))
                .append("SVC", r -> r.dnat("10.1.0.2:8080"))
                .build());
        table.decide(CLIENT, 40000, VIP, 80).addBytes(10);
        table.decide(CLIENT, 40001, VIP, 80).addBytes(1);
        table.decide(CLIENT, 40000, VIP, 80).addBytes(10);
        assertThat(table.counters("SVC", 0).bytes()).isEqualTo(1);
        assertThat(table.counters("SVC", 1).bytes()).isEqualTo(21);
        assertThat(table.counters("PREROUTING", 0).bytes()).isEqualTo(21);
    }

    @Test
    void addBytesOnAPolicyDecisionCreditsThePolicy() {
        NatTable table = NatTable.compile(seed());
        table.decide(CLIENT, 40000, VIP, 22).addBytes(77);
        assertThat(table.policyCounters("PREROUTING").bytes()).isEqualTo(77);
        assertThat(table.policyCounters("PREROUTING").packets()).isEqualTo(1);
    }

    @Test
    void otherBuiltInChainsAreKeptButNeverWalked() {
        NatTable table = NatTable.compile(table()
                .append("OUTPUT", r -> r.dnat("10.1.0.1"))
                .append("POSTROUTING", r -> r.masquerade())
                .build());
        assertThat(decideOne(table)).isEqualTo("PREROUTING policy ACCEPT");
        assertThat(table.counters("OUTPUT", 0).packets()).isZero();
        assertThat(table.policyCounters("OUTPUT").packets()).isZero();
    }

    @Test
    void countersOfAnUnknownChainOrRuleAreRefused() {
        NatTable table = NatTable.compile(seed());
        assertThatThrownBy(() -> table.counters("NOPE", 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("chain: NOPE");
        assertThatThrownBy(() -> table.counters("PREROUTING", 2)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("ruleIndex: 2");
    }

    @Test
    void compileRefusesAJumpToAMissingChain() {
        Ruleset rules = table().append("PREROUTING", r -> r.jump("NOSUCH")).build();
        assertThatThrownBy(() -> NatTable.compile(rules)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("test.rules:1: PREROUTING:1 jumps to NOSUCH (expected: a user chain)");
    }

    @Test
    void compileRefusesChainsThatLoop() {
        Ruleset rules = table()
                .append("PREROUTING", r -> r.jump("A"))
                .append("A", r -> r.jump("B"))
                .append("B", r -> r.goTo("A"))
                .build();
        assertThatThrownBy(() -> NatTable.compile(rules)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("A -> B -> A");
    }

    @Test
    void ipv6AddressesAreRefused() {
        NatTable table = NatTable.compile(seed());
        assertThatThrownBy(() -> table.decide(new InetSocketAddress("::1", 1), new InetSocketAddress("::1", 80)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected: IPv4");
    }

    @Test
    void largeIndexedChainSendsEveryServiceToItsOwnBackendAsTheLinearWalkDoes() {
        RulesetBuilder builder = table().append("PREROUTING", r -> r.jump("SERVICES"));
        for (int i = 0; i < 2000; i++) {
            int service = i;
            builder.append("SERVICES", r -> r.dst("172.30." + (service / 250) + "." + (service % 250 + 1) + "/32")
                    .dport(80 + service % 7).dnat("10.2." + (service / 250) + "." + (service % 250 + 1) + ":8080"));
        }
        builder.append("SERVICES", r -> r.dport(9999).dnat("10.3.0.1"));
        Ruleset rules = builder.build();
        NatTable table = NatTable.compile(rules);
        LinearWalk reference = new LinearWalk(rules, RandomSource.seeded(1));
        for (int i = 0; i < 2000; i++) {
            int vip = ip("172.30." + (i / 250) + "." + (i % 250 + 1));
            for (int port : new int[] {80 + i % 7, 81 + i % 7, 9999}) {
                assertThat(table.decide(CLIENT, 40000, vip, port).toString())
                        .isEqualTo(reference.decide(CLIENT, 40000, vip, port));
            }
        }
        assertThat(table.decide(CLIENT, 40000, ip("172.30.0.1"), 80).toString())
                .isEqualTo("SERVICES:1 -> 10.2.0.1:8080");
    }
}
