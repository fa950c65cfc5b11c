package io.nthlb.nat;

import static io.nthlb.nat.RulesetBuilder.ip;
import static io.nthlb.nat.RulesetBuilder.table;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** Many threads deciding at once: the nth counters are shared and exact, as the kernel's CAS makes them. */
class NatTableConcurrencyTest {

    private static final int THREADS = 4;
    private static final int PER_THREAD = 30_000;
    private static final int VIP = ip("10.0.1.200");

    private static Map<String, Long> decideConcurrently(NatTable table) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        try {
            CountDownLatch start = new CountDownLatch(1);
            List<Future<Map<String, Long>>> results = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int client = ip("192.168.0.1") + t;
                Callable<Map<String, Long>> task = () -> {
                    Map<String, Long> seen = new HashMap<>();
                    start.await();
                    for (int i = 0; i < PER_THREAD; i++) {
                        Decision d = table.decide(client, 1024 + i % 60000, VIP, 80);
                        d.addBytes(10);
                        seen.merge(d.toString(), 1L, Long::sum);
                    }
                    return seen;
                };
                results.add(pool.submit(task));
            }
            start.countDown();
            Map<String, Long> total = new HashMap<>();
            for (Future<Map<String, Long>> f : results) {
                f.get().forEach((k, v) -> total.merge(k, v, Long::sum));
            }
            return total;
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void cascadeGivesEachRuleExactlyItsShareUnderConcurrency() throws Exception {
        NatTable table = NatTable.compile(table()
                .append("PREROUTING", r -> r.dst("10.0.1.200/32").dport(80).nth(3, 0).dnat("172.16.1.1:80"))
                .append("PREROUTING", r -> r.dst("10.0.1.200/32").dport(80).nth(2, 0).dnat("172.16.1.2:80"))
                .append("PREROUTING", r -> r.dst("10.0.1.200/32").dport(80).nth(1, 0).dnat("172.16.1.3:80"))
                .build());
        Map<String, Long> seen = decideConcurrently(table);
        long share = THREADS * PER_THREAD / 3;
        assertThat(seen).containsOnly(
                Map.entry("PREROUTING:1 -> 172.16.1.1:80", share),
                Map.entry("PREROUTING:2 -> 172.16.1.2:80", share),
                Map.entry("PREROUTING:3 -> 172.16.1.3:80", share));
        for (int r = 0; r < 3; r++) {
            assertThat(table.counters("PREROUTING", r).packets()).isEqualTo(share);
            assertThat(table.counters("PREROUTING", r).bytes()).isEqualTo(share * 10);
        }
        assertThat(table.policyCounters("PREROUTING").packets()).isZero();
    }

    @Test
    void randomCascadeAccountsForEveryConnectionUnderConcurrency() throws Exception {
        NatTable table = NatTable.compile(table()
                .append("PREROUTING", r -> r.dst("10.0.1.200/32").dport(80).jump("SVC"))
                .append("SVC", r -> r.random(1 / 3.0).dnat("172.16.1.1:80"))
                .append("SVC", r -> r.random(0.5).dnat("172.16.1.2:80"))
                .append("SVC", r -> r.dnat("172.16.1.3:80"))
                .build());
        Map<String, Long> seen = decideConcurrently(table);
        long total = (long) THREADS * PER_THREAD;
        assertThat(seen.values().stream().mapToLong(Long::longValue).sum()).isEqualTo(total);
        assertThat(table.counters("PREROUTING", 0).packets()).isEqualTo(total);
        long sum = 0;
        for (int r = 0; r < 3; r++) {
            long n = table.counters("SVC", r).packets();
            assertThat(n).isEqualTo(seen.get("SVC:" + (r + 1) + " -> 172.16.1." + (r + 1) + ":80"));
            sum += n;
        }
        assertThat(sum).isEqualTo(total);
    }
}
