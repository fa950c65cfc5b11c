package io.nthlb.admin;

import io.nthlb.balancer.ReloadOutcome;

import io.nthlb.proxy.Addresses;
import static org.assertj.core.api.Assertions.assertThat;

import io.nthlb.nat.NatTable;
import io.nthlb.rules.LoadResult;
import io.nthlb.rules.RulesParser;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class PrometheusMetricsTest {

    private final PrometheusMetrics metrics = new PrometheusMetrics();

    @Test
    void backendInstrumentsAreResolvedOncePerAddress() {
        InetSocketAddress b = new InetSocketAddress("172.16.1.201", 80);
        assertThat(metrics.backend(b)).isSameAs(metrics.backend(new InetSocketAddress("172.16.1.201", 80)));
        assertThat(metrics.backend(b)).isNotSameAs(metrics.backend(new InetSocketAddress("172.16.1.202", 80)));
        assertThat(metrics.listener(b)).isSameAs(metrics.listener(b));
    }

    @Test
    void perBackendCountersAreExposedLabelledByBackend() throws IOException {
        PrometheusMetrics.Backend b = metrics.backend(new InetSocketAddress("172.16.1.201", 80));
        PrometheusMetrics.Backend c = metrics.backend(new InetSocketAddress("172.16.1.202", 80));
        b.connecting();
        b.opened();
        b.connecting();
        b.opened();
        b.closed();
        b.sentToBackend(100);
        b.sentToBackend(23);
        b.receivedFromBackend(4096);
        b.upstreamReadingPaused();
        b.downstreamReadingPaused();
        b.downstreamReadingPaused();
        b.upstreamReset();
        c.connecting();
        c.connectFailed();
        c.downstreamReset();

        PrometheusText text = scrape();

        String bl = "{backend=\"172.16.1.201:80\"}";
        String cl = "{backend=\"172.16.1.202:80\"}";
        assertThat(text.sample("nthlb_upstream_cx_total" + bl)).isEqualTo(2.0);
        assertThat(text.sample("nthlb_upstream_cx_active" + bl)).isEqualTo(1.0);
        assertThat(text.sample("nthlb_upstream_cx_tx_bytes_total" + bl)).isEqualTo(123.0);
        assertThat(text.sample("nthlb_upstream_cx_rx_bytes_total" + bl)).isEqualTo(4096.0);
        assertThat(text.sample("nthlb_upstream_flow_control_paused_reading_total" + bl)).isEqualTo(1.0);
        assertThat(text.sample("nthlb_downstream_flow_control_paused_reading_total" + bl)).isEqualTo(2.0);
        assertThat(text.sample("nthlb_upstream_cx_reset_total" + bl)).isEqualTo(1.0);
        assertThat(text.sample("nthlb_upstream_cx_connect_fail_total" + bl)).isEqualTo(0.0);
        assertThat(text.sample("nthlb_upstream_cx_connect_fail_total" + cl)).isEqualTo(1.0);
        assertThat(text.sample("nthlb_downstream_cx_reset_total" + cl)).isEqualTo(1.0);
        assertThat(text.sample("nthlb_upstream_cx_active" + cl)).isEqualTo(0.0);
        assertThat(text.types).containsEntry("nthlb_upstream_cx_total", "counter")
                .containsEntry("nthlb_upstream_cx_active", "gauge");
    }

    @Test
    void listenerCountersAndTheDataPlaneGaugesAreExposed() throws IOException {
        PrometheusMetrics.Listener l = metrics.listener(new InetSocketAddress("127.0.0.1", 8080));
        l.accepted();
        l.accepted();
        l.acceptError();
        metrics.watchDataPlane(() -> 3, () -> 7);

        PrometheusText text = scrape();

        assertThat(text.sample("nthlb_downstream_cx_total{listener=\"127.0.0.1:8080\"}")).isEqualTo(2.0);
        assertThat(text.sample("nthlb_downstream_cx_accept_errors_total{listener=\"127.0.0.1:8080\"}"))
                .isEqualTo(1.0);
        assertThat(text.sample("nthlb_listeners")).isEqualTo(3.0);
        assertThat(text.sample("nthlb_downstream_cx_active")).isEqualTo(7.0);
    }

    @Test
    void ruleAndPolicyCountersAreReadFromTheRunningTableAtEachScrape() throws IOException {
        LoadResult loaded = RulesParser.parse("t.rules",
                new SeedRules().vip(80, new InetSocketAddress("127.0.0.1", 8081), new InetSocketAddress("127.0.0.1", 8082))
                        .text());
        AtomicReference<NatTable> running = new AtomicReference<>(NatTable.compile(loaded.ruleset()));
        metrics.watchTable(running::get);
        InetSocketAddress client = new InetSocketAddress("127.0.0.2", 40000);
        InetSocketAddress vip = new InetSocketAddress("127.0.0.1", 80);
        for (int i = 0; i < 3; i++) {
            running.get().decide(client, vip).addBytes(1000);
        }
        running.get().decide(client, new InetSocketAddress("127.0.0.1", 81));

        PrometheusText first = scrape();
        running.get().decide(client, vip).addBytes(1);
        PrometheusText second = scrape();
        running.set(NatTable.compile(RulesParser.parse("t.rules", "").ruleset(), running.get()));
        PrometheusText afterReload = scrape();

        String rule1 = "{chain=\"PREROUTING\",rule=\"1\"}";
        String rule2 = "{chain=\"PREROUTING\",rule=\"2\"}";
        assertThat(first.sample("nthlb_rule_connections_total" + rule1)).isEqualTo(2.0);
        assertThat(first.sample("nthlb_rule_bytes_total" + rule1)).isEqualTo(2000.0);
        assertThat(first.sample("nthlb_rule_connections_total" + rule2)).isEqualTo(1.0);
        assertThat(first.sample("nthlb_chain_policy_connections_total{chain=\"PREROUTING\"}")).isEqualTo(1.0);
        assertThat(first.sample("nthlb_chain_policy_bytes_total{chain=\"OUTPUT\"}")).isEqualTo(0.0);
        assertThat(first.types).containsEntry("nthlb_rule_bytes_total", "counter");
        assertThat(second.sample("nthlb_rule_connections_total" + rule2)).isEqualTo(2.0);
        assertThat(second.sample("nthlb_rule_bytes_total" + rule2)).isEqualTo(1001.0);
        // The rules are gone from the running table, so their series are too.
        assertThat(afterReload.sample("nthlb_rule_connections_total" + rule1)).isNull();
        assertThat(afterReload.sample("nthlb_chain_policy_connections_total{chain=\"PREROUTING\"}")).isEqualTo(1.0);
    }

    @Test
    void reloadsAreCountedByResultFromZero() throws IOException {
        metrics.reloaded(ReloadOutcome.Status.REJECTED);

        PrometheusText text = scrape();

        assertThat(text.sample("nthlb_reloads_total{result=\"applied\"}")).isEqualTo(0.0);
        assertThat(text.sample("nthlb_reloads_total{result=\"rejected\"}")).isEqualTo(1.0);
        assertThat(text.sample("nthlb_reloads_total{result=\"failed\"}")).isEqualTo(0.0);
    }

    @Test
    void jvmBasicsAreExposed() throws IOException {
        metrics.registerJvmMetrics();
        PrometheusText text = scrape();

        assertThat(text.types).containsKeys("jvm_memory_used_bytes", "jvm_threads_current", "process_cpu_seconds_total", "process_open_fds");
        assertThat(text.sample("jvm_memory_used_bytes{area=\"heap\"}")).isPositive();
    }

    @Test
    void anIpv6BackendIsLabelledInBrackets() {
        assertThat(Addresses.format(new InetSocketAddress("::1", 80))).isEqualTo("[0:0:0:0:0:0:0:1]:80");
    }

    private PrometheusText scrape() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrometheusTextFormatWriter.create().write(out, metrics.registry().scrape());
        return PrometheusText.parse(out.toString(StandardCharsets.UTF_8));
    }
}
