package io.nthlb.nat;

import static io.nthlb.nat.HostMatchTest.ip;
import static org.assertj.core.api.Assertions.assertThat;

import io.nthlb.rules.LoadResult;
import io.nthlb.rules.RulesParser;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** {@code -m recent} as {@code xt_recent.c} keeps its lists, with a clock the test moves. */
class RecentMatchTest {
    private static final long SECOND = 1_000_000_000L;
    private static final int VIP = ip("10.96.56.78");

    private final AtomicLong clock = new AtomicLong(1_000 * SECOND);

    private NatTable table(String rules, NatTable previous) {
        LoadResult r = RulesParser.parse("t.rules", rules);
        assertThat(r.errors()).isEmpty();
        return NatTable.compile(r.ruleset(), previous, RandomSource.seeded(1), clock::get);
    }

    private static String decide(NatTable table, int client) {
        Decision d = table.decide(client, 40000, VIP, 80);
        return d.isNat() ? d.destination().getAddress().getHostAddress() : d.verdict();
    }

    /** A client seen within --seconds goes to B; the others, and that client later, to A. */
    private static final String SEEN = """
            iptables -t nat -A PREROUTING -p tcp -m recent --rcheck --seconds 10 --name L -j DNAT --to-destination 10.0.0.2
            iptables -t nat -A PREROUTING -p tcp -m recent --set --name L -j DNAT --to-destination 10.0.0.1
            """;

    @Test
    void setAddsTheClientAndRcheckFindsItWithinTheSeconds() {
        NatTable table = table(SEEN, null);
        int client = ip("192.0.2.1");
        assertThat(decide(table, client)).isEqualTo("10.0.0.1");
        assertThat(decide(table, client)).isEqualTo("10.0.0.2");
        clock.addAndGet(10 * SECOND);
        assertThat(decide(table, client)).as("exactly --seconds old still counts").isEqualTo("10.0.0.2");
        clock.addAndGet(1);
        assertThat(decide(table, client)).as("older than --seconds").isEqualTo("10.0.0.1");
        assertThat(decide(table, ip("192.0.2.2"))).isEqualTo("10.0.0.1");
    }

    @Test
    void aListHoldsAHundredAddressesAndEvictsTheLeastRecentlyUpdated() {
        NatTable table = table(SEEN, null);
        for (int i = 0; i < 101; i++) {
            decide(table, ip("192.0.2.0") + i);
            clock.addAndGet(1);
        }
        // 192.0.2.0 was set first and never again: the 101st address pushed it out.
        assertThat(decide(table, ip("192.0.2.0"))).isEqualTo("10.0.0.1");
        assertThat(decide(table, ip("192.0.2.100"))).isEqualTo("10.0.0.2");
        assertThat(decide(table, ip("192.0.2.2"))).isEqualTo("10.0.0.2");
    }

    @Test
    void hitcountCountsStampsWithinTheSecondsAndUpdateAddsOneOnlyWhenItMatches() {
        NatTable table = table("""
                iptables -t nat -A PREROUTING -p tcp -m recent --update --seconds 60 --hitcount 3 -j DNAT --to-destination 10.0.0.3
                iptables -t nat -A PREROUTING -p tcp -m recent --set -j DNAT --to-destination 10.0.0.1
                """, null);
        int client = ip("192.0.2.1");
        List<String> got = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            got.add(decide(table, client));
        }
        // --update without a match adds no stamp: every --set adds one, until three stamps make --update match.
        assertThat(got).containsExactly("10.0.0.1", "10.0.0.1", "10.0.0.1", "10.0.0.3", "10.0.0.3");
    }

    @Test
    void reapDropsTheOldestEntryOfTheListWhenItIsOlderThanTheSeconds() {
        NatTable table = table("""
                iptables -t nat -A PREROUTING -p tcp -s 192.0.2.200 -m recent --rcheck --seconds 5 --reap -j ACCEPT
                iptables -t nat -A PREROUTING -p tcp -m recent --rcheck --seconds 3600 -j DNAT --to-destination 10.0.0.2
                iptables -t nat -A PREROUTING -p tcp -m recent --set -j DNAT --to-destination 10.0.0.1
                """, null);
        decide(table, ip("192.0.2.1"));
        clock.addAndGet(1);
        decide(table, ip("192.0.2.2"));
        clock.addAndGet(1);
        // The reaping check runs only for an address already in the list.
        decide(table, ip("192.0.2.200"));
        clock.addAndGet(10 * SECOND);
        // One check with --reap removes one entry, the least recently updated, and only that one.
        assertThat(decide(table, ip("192.0.2.200"))).isEqualTo("10.0.0.2");
        assertThat(decide(table, ip("192.0.2.1"))).isEqualTo("10.0.0.1");
        assertThat(decide(table, ip("192.0.2.2"))).isEqualTo("10.0.0.2");
    }

    @Test
    void removeTakesTheAddressOutAndMaskAndRdestChooseTheKey() {
        NatTable table = table("""
                iptables -t nat -A PREROUTING -p tcp --dport 81 -m recent --remove --name N --mask 255.255.255.0 -j ACCEPT
                iptables -t nat -A PREROUTING -p tcp -m recent --rcheck --name N --mask 255.255.255.0 -j DNAT --to-destination 10.0.0.2
                iptables -t nat -A PREROUTING -p tcp -m recent --set --name N --mask 255.255.255.0 -j DNAT --to-destination 10.0.0.1
                iptables -t nat -A PREROUTING -p tcp -m recent --rcheck --name D --rdest -j DNAT --to-destination 10.0.0.4
                """, null);
        assertThat(decide(table, ip("192.0.2.1"))).isEqualTo("10.0.0.1");
        assertThat(decide(table, ip("192.0.2.77"))).as("same /24").isEqualTo("10.0.0.2");
        assertThat(decide(table, ip("192.0.3.1"))).isEqualTo("10.0.0.1");
        assertThat(table.decide(ip("192.0.2.9"), 40000, VIP, 81).verdict()).isEqualTo("ACCEPT");
        assertThat(decide(table, ip("192.0.2.1"))).as("removed").isEqualTo("10.0.0.1");
    }

    @Test
    void negatedRcheckMatchesAClientNotInTheList() {
        NatTable table = table("""
                iptables -t nat -A PREROUTING -p tcp -m recent ! --rcheck -j DNAT --to-destination 10.0.0.5
                """, null);
        assertThat(decide(table, ip("192.0.2.1"))).isEqualTo("10.0.0.5");
    }

    @Test
    void aReloadKeepsTheListsItsRulesStillNameAndDropsTheOthers() {
        NatTable before = table(SEEN, null);
        decide(before, ip("192.0.2.1"));
        NatTable kept = table(SEEN + "iptables -t nat -A OUTPUT -p tcp -j ACCEPT\n", before);
        assertThat(decide(kept, ip("192.0.2.1"))).isEqualTo("10.0.0.2");
        NatTable renamed = table(SEEN.replace("--name L", "--name M"), kept);
        assertThat(decide(renamed, ip("192.0.2.1"))).isEqualTo("10.0.0.1");
    }

    /**
     * A recent match before a port test moves its list for every connection that reaches it, whatever its port:
     * the destination index must not file such a rule under the port tested after it.
     */
    @Test
    void aRecentMatchBeforeAPortTestSeesEveryConnectionThatReachesIt() {
        NatTable table = table("""
                iptables -t nat -A PREROUTING -p tcp -m recent --set --name L -m tcp --dport 81 -j ACCEPT
                iptables -t nat -A PREROUTING -d 10.96.56.78 -p tcp --dport 80 -m recent --rcheck --name L -j DNAT --to-destination 10.0.0.2
                iptables -t nat -A PREROUTING -d 10.96.56.78 -p tcp --dport 80 -j DNAT --to-destination 10.0.0.1
                """, null);
        assertThat(decide(table, ip("192.0.2.1"))).isEqualTo("10.0.0.2");
    }

    /** kube-proxy's ClientIP affinity: the first connection picks an endpoint at random, the next ones follow. */
    @Test
    void kubeProxyAffinityKeepsEachClientOnOneEndpoint() throws Exception {
        LoadResult r = io.nthlb.rules.RulesFile.load(java.nio.file.Path.of(
                "src/test/resources/rules/kube-proxy-services.rules"));
        NatTable table = NatTable.compile(r.ruleset(), null, RandomSource.seeded(5), clock::get);
        java.util.Set<String> endpoints = new java.util.HashSet<>();
        for (int c = 1; c <= 8; c++) {
            List<String> got = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                Decision d = table.decide(ip("192.0.2.0") + c, 40000 + i, VIP, 8080);
                got.add(d.destination().toString());
            }
            assertThat(got).as("client %d", c).containsOnly(got.get(0));
            endpoints.add(got.get(0));
        }
        assertThat(endpoints).as("clients spread over both endpoints").hasSize(2);
        clock.addAndGet(10_801 * SECOND);
        // After --seconds 10800 the affinity is gone: the random choice is made again (and stuck to again).
        assertThat(table.decide(ip("192.0.2.1"), 41000, VIP, 8080).label()).contains("KUBE-SEP");
    }
}
