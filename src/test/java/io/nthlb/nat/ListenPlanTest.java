package io.nthlb.nat;

import static io.nthlb.nat.RulesetBuilder.ip;
import static io.nthlb.nat.RulesetBuilder.table;
import static org.assertj.core.api.Assertions.assertThat;

import io.nthlb.rules.RuleError;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class ListenPlanTest {

    private static List<String> addresses(RulesetBuilder rules) {
        return ListenPlan.of(rules.build()).addresses().stream().map(ListenAddress::toString).toList();
    }

    private static List<String> backends(RulesetBuilder rules) {
        return ListenPlan.of(rules.build()).backends().stream()
                .map(a -> a.getAddress().getHostAddress() + ":" + a.getPort()).toList();
    }

    @Test
    void backendsAreWhatEachPathRewritesTo() {
        assertThat(backends(table()
                .append("PREROUTING", r -> r.jump("KUBE-SERVICES"))
                .append("KUBE-SERVICES", r -> r.dst("172.30.1.1/32").dport(80).jump("KUBE-SVC-A"))
                .append("KUBE-SVC-A", r -> r.random(0.5).jump("KUBE-SEP-1"))
                .append("KUBE-SVC-A", r -> r.jump("KUBE-SEP-2"))
                .append("KUBE-SEP-1", r -> r.tcp().dnat("10.2.0.1:8080"))
                .append("KUBE-SEP-2", r -> r.tcp().dnat("10.2.0.2:8080"))
                // No port: the path's ports are kept. A range: each of its addresses.
                .append("PREROUTING", r -> r.dst("10.0.0.1/32").dports(8000, 8001, false).dnat("10.1.0.1"))
                .append("PREROUTING", r -> r.dst("10.0.0.2/32").dport(90).dnat("10.1.0.5-10.1.0.6:9000"))
                // REDIRECT to the path's host; on any address it is only known per connection.
                .append("PREROUTING", r -> r.dst("10.0.0.3/32").dport(91).redirect("8080"))
                .append("PREROUTING", r -> r.dport(92).redirect("8081"))
                // More than 256 backends: none listed.
                .append("PREROUTING", r -> r.dst("10.0.0.4/32").dport(93).dnat("10.3.0.0-10.3.1.255:80"))))
                .containsExactly("10.2.0.1:8080", "10.2.0.2:8080", "10.1.0.1:8000", "10.1.0.1:8001",
                        "10.1.0.5:9000", "10.1.0.6:9000", "10.0.0.3:8080");
    }

    @Test
    void aPlanReachesItsListedBackendsAndThoseTooManyOrTooLateToList() {
        ListenPlan plan = ListenPlan.of(table()
                .append("PREROUTING", r -> r.dst("10.0.0.1/32").dport(80).dnat("10.2.0.1:8080"))
                .append("PREROUTING", r -> r.dport(92).redirect("8081"))
                .append("PREROUTING", r -> r.dst("10.0.0.4/32").dport(93).dnat("10.3.0.0-10.3.1.255:80"))
                .build());

        assertThat(plan.reaches(backend("10.2.0.1", 8080))).isTrue();
        assertThat(plan.reaches(backend("10.2.0.1", 8081))).as("a REDIRECT on any address: any address").isTrue();
        assertThat(plan.reaches(backend("192.168.7.7", 8081))).isTrue();
        assertThat(plan.reaches(backend("10.3.1.17", 80))).as("in the range too large to list").isTrue();
        assertThat(plan.reaches(backend("10.3.2.0", 80))).isFalse();
        assertThat(plan.reaches(backend("10.3.1.17", 81))).isFalse();
        assertThat(plan.reaches(backend("10.2.0.2", 8080))).isFalse();
        assertThat(plan.reaches(new InetSocketAddress("::1", 8081))).isFalse();
    }

    private static InetSocketAddress backend(String address, int port) {
        return new InetSocketAddress(address, port);
    }

    private static List<String> errors(RulesetBuilder rules) {
        return ListenPlan.of(rules.build()).errors().stream().map(RuleError::toString).toList();
    }

    @Test
    void seedListensOnItsVip() {
        NatTable table = NatTable.compile(NatTableTest.seed());
        assertThat(table.listenAddresses()).containsExactly(new ListenAddress(ip("10.0.1.200"), 80));
        assertThat(table.listenErrors()).isEmpty();
    }

    @Test
    void destinationThatIsNotOneHostListensOnTheWildcard() {
        assertThat(addresses(table()
                .append("PREROUTING", r -> r.dst("10.0.1.0/24").dport(80).dnat("10.1.0.1"))
                .append("PREROUTING", r -> r.notDst("10.0.2.1/32").dport(81).dnat("10.1.0.1"))
                .append("PREROUTING", r -> r.dport(82).redirect("8080"))))
                .containsExactly("*:80", "*:81", "*:82");
    }

    @Test
    void constraintsAreCollectedAlongJumps() {
        assertThat(addresses(table()
                .append("PREROUTING", r -> r.jump("KUBE-SERVICES"))
                .append("KUBE-SERVICES", r -> r.dst("172.30.1.1/32").dport(80).jump("KUBE-SVC-A"))
                .append("KUBE-SERVICES", r -> r.dst("172.30.1.2/32").tcp().multiportDports(443, 8443).goTo("KUBE-SVC-A"))
                .append("KUBE-SVC-A", r -> r.random(0.5).jump("KUBE-SEP-1"))
                .append("KUBE-SVC-A", r -> r.jump("KUBE-SEP-2"))
                .append("KUBE-SEP-1", r -> r.tcp().dnat("10.2.0.1:8080"))
                .append("KUBE-SEP-2", r -> r.tcp().dnat("10.2.0.2:8080"))))
                .containsExactly("172.30.1.1:80", "172.30.1.2:443", "172.30.1.2:8443");
    }

    @Test
    void manyJumpsIntoEachOfFifteenChainsArePlannedWithoutWalkingEveryPath() {
        // 100 jumps from each chain to the next, 15 deep (the kernel's limit): 100^15 rule paths, but only
        // one way into each chain with the same constraints, so each chain is walked once.
        RulesetBuilder rules = table().append("PREROUTING", r -> r.jump("C1"));
        for (int c = 1; c < 15; c++) {
            String next = "C" + (c + 1);
            for (int j = 0; j < 100; j++) {
                rules.append("C" + c, r -> r.jump(next));
            }
        }
        rules.append("C15", r -> r.dst("10.0.1.200/32").dport(80).dnat("10.1.0.1"));
        org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(Duration.ofSeconds(10), () ->
                assertThat(addresses(rules)).containsExactly("10.0.1.200:80"));
    }

    @Test
    void portsOnOnePathIntersect() {
        assertThat(addresses(table()
                .append("PREROUTING", r -> r.dports(80, 90, false).jump("A"))
                .append("A", r -> r.tcp().multiportDports(85, 95).dnat("10.1.0.1"))
                .append("A", r -> r.dport(100).dnat("10.1.0.1"))))
                .containsExactly("*:85");
    }

    @Test
    void portRangeListensOnEachPort() {
        assertThat(addresses(table().append("PREROUTING", r -> r.dst("10.0.0.1/32").dports(8000, 8002, false)
                .dnat("10.1.0.1")))).containsExactly("10.0.0.1:8000", "10.0.0.1:8001", "10.0.0.1:8002");
    }

    @Test
    void wildcardCoversHostListenersOnTheSamePort() {
        assertThat(addresses(table()
                .append("PREROUTING", r -> r.dst("10.0.0.1/32").dport(80).dnat("10.1.0.1"))
                .append("PREROUTING", r -> r.dport(80).dnat("10.1.0.2"))
                .append("PREROUTING", r -> r.dst("10.0.0.1/32").dport(81).dnat("10.1.0.2"))))
                .containsExactly("*:80", "10.0.0.1:81");
    }

    @Test
    void pathsThatCannotMatchAreIgnored() {
        assertThat(addresses(table()
                .append("PREROUTING", r -> r.udp().dport(53).dnat("10.1.0.1"))
                .append("PREROUTING", r -> r.mark(0x4000, 0x4000, false).dport(80).dnat("10.1.0.1"))
                .append("PREROUTING", r -> r.dst("10.0.0.1/32").jump("A"))
                .append("A", r -> r.dst("10.0.0.2/32").dport(81).dnat("10.1.0.1"))
                .append("PREROUTING", r -> r.dport(82).jump("B"))
                .append("B", r -> r.dport(83).dnat("10.1.0.1"))
                .append("OUTPUT", r -> r.dport(84).dnat("10.1.0.1"))))
                .isEmpty();
    }

    @Test
    void dnatWithoutADestinationPortIsAnErrorNamingTheRuleAndPath() {
        RulesetBuilder rules = table()
                .append("PREROUTING", r -> r.dst("10.0.0.1/32").jump("SVC"))
                .append("SVC", r -> r.src("192.168.0.0/16").accept())
                .append("SVC", r -> r.tcp().dnat("10.1.0.1"));
        assertThat(errors(rules)).containsExactly("test.rules:3: PREROUTING:1 -> SVC:2: DNAT of any destination port"
                + " cannot be served by a userspace listener (expected: --dport or -m multiport --dports)");
        assertThat(addresses(rules)).isEmpty();
    }

    @Test
    void negatedOrSourcePortOptionsDoNotRestrictTheDestinationPort() {
        assertThat(errors(table()
                .append("PREROUTING", r -> r.notDport(80).redirect("8080"))
                .append("PREROUTING", r -> r.sport(80).dnat("10.1.0.1"))))
                .containsExactly(
                        "test.rules:1: PREROUTING:1: REDIRECT of any destination port cannot be served by a"
                                + " userspace listener (expected: --dport or -m multiport --dports)",
                        "test.rules:2: PREROUTING:2: DNAT of any destination port cannot be served by a"
                                + " userspace listener (expected: --dport or -m multiport --dports)");
    }

    @Test
    void tooManyPortsIsAnError() {
        RulesetBuilder rules = table().append("PREROUTING", r -> r.dports(30000, 32767, false).dnat("10.1.0.1"));
        assertThat(errors(rules)).containsExactly("test.rules:1: PREROUTING:1: DNAT of 2768 destination ports"
                + " would need a listener each (expected: at most 1024)");
        assertThat(addresses(rules)).isEmpty();
    }

    @Test
    void aRangeOfExactlyTheCapIsServed() {
        assertThat(addresses(table().append("PREROUTING", r -> r.dports(1, ListenPlan.MAX_PORTS_PER_PATH, false)
                .dnat("10.1.0.1")))).hasSize(ListenPlan.MAX_PORTS_PER_PATH);
    }
}
