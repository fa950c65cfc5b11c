package io.nthlb.nat;

import static io.nthlb.nat.RulesetBuilder.ip;
import static io.nthlb.nat.RulesetBuilder.table;
import static org.assertj.core.api.Assertions.assertThat;

import io.nthlb.rules.LoadResult;
import io.nthlb.rules.Ruleset;
import io.nthlb.rules.RulesParser;
import io.nthlb.testing.Eventually;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * What a reload keeps: {@link NatTable#reloadFresh} as {@code iptables-restore} loads a table, and
 * {@link NatTable#compile(Ruleset, NatTable)} for {@code --reload-keeps-counters}.
 */
class NatTableReloadTest {

    private static final int CLIENT = ip("192.168.0.10");
    private static final int VIP = ip("10.0.1.200");

    private static String decide(NatTable table) {
        return table.decide(CLIENT, 40000, VIP, 80).toString();
    }

    private static RulesetBuilder seedBuilder() {
        return table()
                .append("PREROUTING", r -> r.dst("10.0.1.200/32").dport(80).nth(2, 0).dnat("172.16.1.201:80"))
                .append("PREROUTING", r -> r.dst("10.0.1.200/32").dport(80).nth(1, 0).dnat("172.16.1.202:80"));
    }

    @Test
    void unchangedRulesKeepTheirCountersAndNthPosition() {
        NatTable before = NatTable.compile(seedBuilder().build());
        assertThat(decide(before)).isEqualTo("PREROUTING:1 -> 172.16.1.201:80");
        before.decide(CLIENT, 40001, VIP, 81).addBytes(5);

        // A comment line above shifts every origin: the rules are still unchanged.
        Ruleset reloaded = table()
                .append("PREROUTING", r -> r.dport(22).accept())
                .append("PREROUTING", r -> r.dst("10.0.1.200/32").dport(80).nth(2, 0).dnat("172.16.1.201:80"))
                .append("PREROUTING", r -> r.dst("10.0.1.200/32").dport(80).nth(1, 0).dnat("172.16.1.202:80"))
                .build();
        NatTable after = NatTable.compile(reloaded, before);
        // The nth counter carried over: the second connection overall goes to the second backend.
        assertThat(decide(after)).isEqualTo("PREROUTING:3 -> 172.16.1.202:80");
        assertThat(after.counters("PREROUTING", 0).packets()).isZero();
        assertThat(after.counters("PREROUTING", 1).packets()).isEqualTo(1);
        assertThat(after.counters("PREROUTING", 2).packets()).isEqualTo(1);
        assertThat(after.policyCounters("PREROUTING").packets()).isEqualTo(1);
        assertThat(after.policyCounters("PREROUTING").bytes()).isEqualTo(5);
    }

    @Test
    void aReloadAsIptablesRestoreStartsEveryRuleFromZeroAndItsFirstNthPosition() {
        NatTable before = NatTable.compile(seedBuilder().build());
        assertThat(decide(before)).isEqualTo("PREROUTING:1 -> 172.16.1.201:80");
        before.decide(CLIENT, 40001, VIP, 81).addBytes(5);

        NatTable after = NatTable.reloadFresh(seedBuilder().build(), before);

        assertThat(after.counters("PREROUTING", 0).packets()).isZero();
        assertThat(after.counters("PREROUTING", 1).packets()).isZero();
        assertThat(after.policyCounters("PREROUTING").packets()).isZero();
        assertThat(after.policyCounters("PREROUTING").bytes()).isZero();
        // The cascade starts over: the first connection after the reload goes to the first backend again.
        assertThat(decide(after)).isEqualTo("PREROUTING:1 -> 172.16.1.201:80");
        assertThat(decide(after)).isEqualTo("PREROUTING:2 -> 172.16.1.202:80");
        assertThat(before.counters("PREROUTING", 0).packets()).as("the old table's own counters").isEqualTo(1);
    }

    @Test
    void aReloadAsIptablesRestoreKeepsTheRecentListsAsTheKernelDoes() {
        LoadResult read = RulesParser.parse("seen.rules", """
                iptables -t nat -A PREROUTING -p tcp -m recent --rcheck --seconds 60 --name L -j DNAT --to-destination 10.0.0.2
                iptables -t nat -A PREROUTING -p tcp -m recent --set --name L -j DNAT --to-destination 10.0.0.1
                """);
        assertThat(read.errors()).isEmpty();
        Ruleset seen = read.ruleset();
        NatTable before = NatTable.compile(seen);
        assertThat(decide(before)).isEqualTo("PREROUTING:2 -> 10.0.0.1:80");

        NatTable after = NatTable.reloadFresh(seen, before);

        assertThat(decide(after)).as("the client the old table put on list L").isEqualTo("PREROUTING:1 -> 10.0.0.2:80");
    }

    @Test
    void changedRuleStartsFresh() {
        NatTable before = NatTable.compile(seedBuilder().build());
        decide(before);
        Ruleset reloaded = table()
                .append("PREROUTING", r -> r.dst("10.0.1.200/32").dport(80).nth(2, 0).dnat("172.16.1.203:80"))
                .append("PREROUTING", r -> r.dst("10.0.1.200/32").dport(80).nth(1, 0).dnat("172.16.1.202:80"))
                .build();
        NatTable after = NatTable.compile(reloaded, before);
        assertThat(after.counters("PREROUTING", 0).packets()).isZero();
        // A fresh --every 2 --packet 0 counter takes the first connection it sees.
        assertThat(decide(after)).isEqualTo("PREROUTING:1 -> 172.16.1.203:80");
    }

    @Test
    void ruleMovedToAnotherChainStartsFresh() {
        NatTable before = NatTable.compile(table().append("PREROUTING", r -> r.dnat("10.1.0.1")).build());
        decide(before);
        NatTable after = NatTable.compile(table()
                .append("PREROUTING", r -> r.jump("A"))
                .append("A", r -> r.dnat("10.1.0.1"))
                .build(), before);
        assertThat(after.counters("A", 0).packets()).isZero();
    }

    @Test
    void equalRulesInheritByPositionAmongTheirEquals() {
        NatTable before = NatTable.compile(table()
                .append("PREROUTING", r -> r.dport(80).nth(2, 0).dnat("10.1.0.1"))
                .append("PREROUTING", r -> r.dport(80).nth(2, 0).dnat("10.1.0.1"))
                .build());
        for (int i = 0; i < 3; i++) {
            before.decide(CLIENT, 40000 + i, VIP, 80);
        }
        // Connections 0, 2 matched rule 1; connection 1 reached rule 2 and matched it.
        assertThat(before.counters("PREROUTING", 0).packets()).isEqualTo(2);
        assertThat(before.counters("PREROUTING", 1).packets()).isEqualTo(1);
        NatTable after = NatTable.compile(table()
                .append("PREROUTING", r -> r.dport(80).nth(2, 0).dnat("10.1.0.1"))
                .append("PREROUTING", r -> r.dport(443).dnat("10.1.0.2"))
                .append("PREROUTING", r -> r.dport(80).nth(2, 0).dnat("10.1.0.1"))
                .append("PREROUTING", r -> r.dport(80).nth(2, 0).dnat("10.1.0.1"))
                .build(), before);
        assertThat(after.counters("PREROUTING", 0).packets()).isEqualTo(2);
        assertThat(after.counters("PREROUTING", 2).packets()).isEqualTo(1);
        assertThat(after.counters("PREROUTING", 3).packets()).isZero();
    }

    @Test
    void reloadWithoutPreviousIsAFreshTable() {
        NatTable table = NatTable.compile(seedBuilder().build(), null);
        assertThat(decide(table)).isEqualTo("PREROUTING:1 -> 172.16.1.201:80");
    }

    @Test
    void decisionsTheOldTableStillMakesCountInTheNewOne() {
        NatTable before = NatTable.compile(seedBuilder().build());
        decide(before);
        NatTable after = NatTable.compile(seedBuilder().build(), before);
        // Connections accepted for the old table while, and after, the new one was compiled.
        decide(before);
        decide(before);
        decide(after);
        assertThat(after.counters("PREROUTING", 0).packets()).isEqualTo(2);
        assertThat(after.counters("PREROUTING", 1).packets()).isEqualTo(2);
        assertThat(before.counters("PREROUTING", 0).packets()).isEqualTo(2);
    }

    @Test
    void countersSurviveManyReloadsWhileOldTablesAreCollected() {
        NatTable table = NatTable.compile(seedBuilder().build());
        java.lang.ref.WeakReference<NatTable> first = new java.lang.ref.WeakReference<>(table);
        for (int reload = 0; reload < 50; reload++) {
            decide(table);
            table = NatTable.compile(seedBuilder().build(), table);
        }
        decide(table);
        assertThat(table.counters("PREROUTING", 0).packets()).isEqualTo(26);
        assertThat(table.counters("PREROUTING", 1).packets()).isEqualTo(25);
        assertThat(table.policyCounters("PREROUTING").packets()).isZero();
        // Old tables are not kept alive by the counters they shared, nor by a thread's walks.
        Eventually.until(() -> {
            System.gc();
            return first.get() == null;
        }, "the first table collected", Duration.ofSeconds(10));
    }
}
