package io.nthlb.health;

import static org.assertj.core.api.Assertions.assertThat;

import io.nthlb.nat.NatTable;
import io.nthlb.rules.LoadResult;
import io.nthlb.rules.RulesParser;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class FailoverTest {

    private static final String SEED = """
            iptables -t nat -A PREROUTING -d 10.0.1.200 -p tcp --dport 80 -m statistic --mode nth --every 2 --packet 0 -j DNAT --to-destination 172.16.1.201:80
            iptables -t nat -A PREROUTING -d 10.0.1.200 -p tcp --dport 80 -m statistic --mode nth --every 1 --packet 0 -j DNAT --to-destination 172.16.1.202:80
            """;
    private static final String THREE = """
            iptables -t nat -A PREROUTING -d 10.0.1.200 -p tcp --dport 80 -m statistic --mode nth --every 3 --packet 0 -j DNAT --to-destination 172.16.1.201:80
            iptables -t nat -A PREROUTING -d 10.0.1.200 -p tcp --dport 80 -m statistic --mode nth --every 2 --packet 0 -j DNAT --to-destination 172.16.1.202:80
            iptables -t nat -A PREROUTING -d 10.0.1.200 -p tcp --dport 80 -m statistic --mode nth --every 1 --packet 0 -j DNAT --to-destination 172.16.1.203:80
            """;
    private static final InetSocketAddress B = new InetSocketAddress("172.16.1.201", 80);
    private static final InetSocketAddress C = new InetSocketAddress("172.16.1.202", 80);
    private static final InetSocketAddress D = new InetSocketAddress("172.16.1.203", 80);
    private static final int VIP = 10 << 24 | 1 << 8 | 200;

    private static NatTable compile(String text) {
        LoadResult loaded = RulesParser.parse("test.rules", text);
        assertThat(loaded.errors()).isEmpty();
        return NatTable.compile(loaded.ruleset());
    }

    private static List<Failover.Outcome> decide(NatTable table, int n, Set<InetSocketAddress> down) {
        List<Failover.Outcome> outcomes = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            outcomes.add(Failover.decide(table, 0xC0000201, 40000 + i, VIP, 80, null, down::contains));
        }
        return outcomes;
    }

    private static List<InetSocketAddress> destinations(List<Failover.Outcome> outcomes) {
        return outcomes.stream().map(o -> o.decision().destination()).toList();
    }

    @Test
    void seedWithCDownSendsEveryConnectionToBAndEachSkipMovesTheCountersAsANewConnection() {
        NatTable table = compile(SEED);
        List<Failover.Outcome> outcomes = decide(table, 6, Set.of(C));
        assertThat(destinations(outcomes)).containsOnly(B).hasSize(6);
        // The 1st lands on B at once; every later one lands on C first and is decided again.
        assertThat(outcomes.get(0).skipped()).isEmpty();
        assertThat(outcomes.subList(1, 6)).allSatisfy(o -> assertThat(o.skipped()).containsExactly(C));
        assertThat(outcomes).noneMatch(Failover.Outcome::allDown);
        assertThat(table.counters("PREROUTING", 0).packets()).isEqualTo(6);
        assertThat(table.counters("PREROUTING", 1).packets()).isEqualTo(5);
    }

    @Test
    void everyoneUpIsTheKernelsDecision() {
        assertThat(destinations(decide(compile(SEED), 4, Set.of()))).containsExactly(B, C, B, C);
    }

    @Test
    void middleOfThreeDownLeavesTheOtherTwoAlternating() {
        assertThat(destinations(decide(compile(THREE), 6, Set.of(C)))).containsExactly(B, D, B, D, B, D);
    }

    @Test
    void everyBackendDownKeepsTheKernelsOrderWithOneWalkPerConnection() {
        NatTable table = compile(SEED);
        List<Failover.Outcome> outcomes = decide(table, 4, Set.of(B, C));
        assertThat(destinations(outcomes)).containsExactly(B, C, B, C);
        assertThat(outcomes).allMatch(Failover.Outcome::allDown);
        assertThat(table.counters("PREROUTING", 0).packets()).isEqualTo(2);
        assertThat(table.counters("PREROUTING", 1).packets()).isEqualTo(2);
    }
}
