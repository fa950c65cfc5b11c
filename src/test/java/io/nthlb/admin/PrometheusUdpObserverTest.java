package io.nthlb.admin;

import static org.assertj.core.api.Assertions.assertThat;

import io.nthlb.balancer.CompiledRules;
import io.nthlb.balancer.ReloadOutcome;
import io.nthlb.health.FailoverOptions;
import io.nthlb.balancer.LoadBalancer;
import io.nthlb.proxy.ProxyOptions;
import io.nthlb.proxy.RelayObserver;
import io.nthlb.proxy.Transport;
import io.nthlb.proxy.UdpOptions;
import io.nthlb.testing.Eventually;
import io.nthlb.testing.FreePort;
import io.nthlb.testing.UdpClient;
import io.nthlb.testing.UdpEchoBackend;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** UDP flows through a real load balancer on loopback, counted into the Prometheus registry. */
class PrometheusUdpObserverTest {

    @TempDir
    Path dir;
    private final PrometheusMetrics metrics = new PrometheusMetrics();
    private final int vip = freeUdpPort();
    private LoadBalancer balancer;
    private PrometheusUdpObserver observer;

    @AfterEach
    void stop() {
        if (balancer != null) {
            balancer.close();
        }
    }

    @Test
    void flowsBytesAndTheFullTableAreCountedApartFromTcp() throws Exception {
        try (UdpEchoBackend b = UdpEchoBackend.start("B");
             UdpClient first = UdpClient.onLoopback(); UdpClient second = UdpClient.onLoopback()) {
            start(b.port(), UdpOptions.defaults().withMaxFlows(1));
            first.exchange(vipAddress(), "ten bytes!"); // answered with "B:" and the ten bytes
            second.send(vipAddress(), "five!"); // the table is full: dropped
            Eventually.await(() -> balancer.udp().droppedTableFull(), n -> n == 1);

            String listener = "{listener=\"127.0.0.1:" + vip + "\"}";
            String backend = "{backend=\"127.0.0.1:" + b.port() + "\"}";
            PrometheusText text = Eventually.await(this::scrape,
                    t -> Double.valueOf(12.0).equals(t.sample("nthlb_udp_upstream_rx_bytes_total" + backend)));
            assertThat(text.sample("nthlb_udp_flows_total" + listener)).isEqualTo(1.0);
            assertThat(text.sample("nthlb_udp_flows_active")).isEqualTo(1.0);
            assertThat(text.sample("nthlb_udp_flows_dropped_table_full_total")).isEqualTo(1.0);
            assertThat(text.sample("nthlb_udp_listeners")).isEqualTo(1.0);
            assertThat(text.sample("nthlb_udp_upstream_tx_bytes_total" + backend)).isEqualTo(10.0);
            assertThat(text.sample("nthlb_udp_upstream_rx_bytes_total" + backend)).isEqualTo(12.0);
            assertThat(text.sample("nthlb_downstream_cx_total" + listener)).isNull();
        }
    }

    @Test
    void aFlowEndedByAnIcmpErrorIsCountedForItsBackend() throws Exception {
        int dead = freeUdpPort();
        try (UdpClient client = UdpClient.onLoopback()) {
            start(dead, UdpOptions.defaults());
            client.send(vipAddress(), "abc");

            String backend = "{backend=\"127.0.0.1:" + dead + "\"}";
            // One scrape reads the gauge and the counter at two moments: wait for one that saw the flow's end in both.
            PrometheusText text = Eventually.await(this::scrape,
                    t -> Double.valueOf(1.0).equals(t.sample("nthlb_udp_upstream_unreachable_total" + backend))
                            && Double.valueOf(0.0).equals(t.sample("nthlb_udp_flows_active")));
            assertThat(text.sample("nthlb_udp_upstream_unreachable_total" + backend)).isEqualTo(1.0);
            assertThat(text.sample("nthlb_udp_flows_active")).isZero();
        }
    }

    @Test
    void aBackendAReloadDropsKeepsItsSeriesUntilItsLastFlowEnds() throws Exception {
        try (UdpEchoBackend x = UdpEchoBackend.start("X"); UdpEchoBackend y = UdpEchoBackend.start("Y");
             UdpClient client = UdpClient.onLoopback()) {
            start(x.port(), UdpOptions.defaults().withTimeout(Duration.ofSeconds(3)));
            assertThat(client.exchange(vipAddress(), "1").text()).isEqualTo("X:1");
            String xLabel = "{backend=\"127.0.0.1:" + x.port() + "\"}";

            Files.writeString(dir.resolve("udp.rules"), rulesText(y.port()));
            assertThat(balancer.reload(dir.resolve("udp.rules")).status()).isEqualTo(ReloadOutcome.Status.APPLIED);
            // The flow keeps its backend across the reload; this datagram also restarts its timeout.
            assertThat(client.exchange(vipAddress(), "2").text()).isEqualTo("X:2");
            PrometheusText kept = scrape();
            assertThat(kept.sample("nthlb_udp_flows_active")).isEqualTo(1.0);
            assertThat(kept.sample("nthlb_udp_upstream_tx_bytes_total" + xLabel)).isEqualTo(2.0);

            PrometheusText ended = Eventually.await(this::scrape,
                    t -> Double.valueOf(0.0).equals(t.sample("nthlb_udp_flows_active"))
                            && t.sample("nthlb_udp_upstream_tx_bytes_total" + xLabel) == null);
            assertThat(ended.sample("nthlb_udp_upstream_tx_bytes_total" + xLabel)).as("gone with its last flow")
                    .isNull();
            assertThat(ended.sample("nthlb_udp_upstream_rx_bytes_total" + xLabel)).isNull();
            assertThat(observer.backendsWithSeries()).isZero();
        }
    }

    private String rulesText(int backendPort) {
        return "iptables -t nat -A PREROUTING -d 127.0.0.1 -p udp --dport " + vip
                + " -j DNAT --to-destination 127.0.0.1:" + backendPort + "\n";
    }

    private void start(int backendPort, UdpOptions udp) throws IOException {
        Path file = dir.resolve("udp.rules");
        Files.writeString(file, rulesText(backendPort));
        observer = new PrometheusUdpObserver(metrics);
        balancer = LoadBalancer.start(CompiledRules.of(file).table(),
                ProxyOptions.defaults(Transport.resolve(Transport.EPOLL)).withThreads(2), FailoverOptions.NONE, udp,
                RelayObserver.NONE, observer);
        observer.watch(balancer.udp());
    }

    private InetSocketAddress vipAddress() {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), vip);
    }

    private static int freeUdpPort() {
        try {
            return FreePort.udpOnLoopback();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private PrometheusText scrape() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrometheusTextFormatWriter.create().write(out, metrics.registry().scrape());
        return PrometheusText.parse(out.toString(StandardCharsets.UTF_8));
    }
}
