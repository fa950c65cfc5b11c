package io.nthlb.admin;

import static org.assertj.core.api.Assertions.assertThat;

import io.nthlb.health.FailoverOptions;
import io.nthlb.testing.Eventually;
import io.nthlb.testing.LoopbackBackend;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The per-backend and per-rule series of a whole nthlb on loopback across reloads: a backend the running table
 * no longer names loses its series once its connections have ended, so series do not pile up as backends come
 * and go.
 */
class SeriesLifetimeTest extends SeedOnLoopback {

    private static final Pattern BACKEND_LABEL = Pattern.compile("backend=\"([^\"]*)\"");

    @Test
    void aDroppedBackendLosesItsSeriesWhenItsLastConnectionEndsWhileKeptAndNewOnesCount() throws Exception {
        try (LoopbackBackend c = LoopbackBackend.echo("C");
             Socket held = new Socket(InetAddress.getLoopbackAddress(), vipPort)) {
            held.setSoTimeout(10_000);
            assertThat(readGreeting(held.getInputStream())).isEqualTo("A:");
            assertThat(AdminPlaneTest.exchange(vipPort, "b")).isEqualTo("B:b");
            awaitSample("nthlb_upstream_cx_active" + label(b.address()), 0.0);

            nthlb.rewrite(new SeedRules().vip(vipPort, b.address(), c.address()).text());
            assertThat(nthlb.client().post("/reload").status()).isEqualTo(200);

            PrometheusText afterReload = scrape();
            assertThat(afterReload.sample("nthlb_upstream_cx_active" + label(a.address())))
                    .as("A's open connection keeps its series").isEqualTo(1.0);
            assertThat(AdminPlaneTest.exchange(vipPort, "1")).isEqualTo("B:1");
            assertThat(AdminPlaneTest.exchange(vipPort, "2")).isEqualTo("C:2");
            awaitSample("nthlb_upstream_cx_active" + label(c.address()), 0.0);
            PrometheusText withC = awaitSample("nthlb_upstream_cx_active" + label(b.address()), 0.0);
            assertThat(withC.sample("nthlb_upstream_cx_total" + label(b.address()))).as("B's series go on").isEqualTo(2.0);
            assertThat(withC.sample("nthlb_upstream_cx_tx_bytes_total" + label(b.address()))).isEqualTo(2.0);
            assertThat(withC.sample("nthlb_upstream_cx_total" + label(c.address()))).isEqualTo(1.0);
            assertThat(withC.sample("nthlb_upstream_cx_active" + label(a.address()))).isEqualTo(1.0);

            held.getOutputStream().write('a');
            held.shutdownOutput();
            assertThat(held.getInputStream().readAllBytes()).asString(StandardCharsets.US_ASCII).isEqualTo("a");
        }
        Set<String> left = Eventually.await(() -> backendLabels(scrape()),
                labels -> !labels.contains(format(a.address())));
        assertThat(left).as("A's series are gone once its last connection ended")
                .doesNotContain(format(a.address())).contains(format(b.address()));
    }

    @Test
    void aDroppedBackendWithNoConnectionOpenLosesItsSeriesAtTheReloadAndFreshOnesWhenItComesBack() throws Exception {
        assertThat(AdminPlaneTest.exchange(vipPort, "a")).isEqualTo("A:a");
        assertThat(AdminPlaneTest.exchange(vipPort, "b")).isEqualTo("B:b");
        awaitSample("nthlb_upstream_cx_active" + label(a.address()), 0.0);
        awaitSample("nthlb_upstream_cx_active" + label(b.address()), 0.0);

        nthlb.rewrite(new SeedRules().vip(vipPort, b.address()).text());
        assertThat(nthlb.client().post("/reload").status()).isEqualTo(200);

        PrometheusText onlyB = scrape();
        assertThat(backendLabels(onlyB)).containsExactly(format(b.address()));
        assertThat(onlyB.sample("nthlb_rule_connections_total{chain=\"PREROUTING\",rule=\"1\"}")).isZero();
        assertThat(onlyB.sample("nthlb_rule_connections_total{chain=\"PREROUTING\",rule=\"2\"}"))
                .as("the rule is gone from the table, so is its series").isNull();

        nthlb.rewrite(new SeedRules().vip(vipPort, a.address(), b.address()).text());
        assertThat(nthlb.client().post("/reload").status()).isEqualTo(200);
        assertThat(AdminPlaneTest.exchange(vipPort, "x")).isEqualTo("A:x");
        PrometheusText back = awaitSample("nthlb_upstream_cx_active" + label(a.address()), 0.0);
        assertThat(back.sample("nthlb_upstream_cx_total" + label(a.address()))).as("counted from zero again")
                .isEqualTo(1.0);
        assertThat(back.sample("nthlb_upstream_cx_tx_bytes_total" + label(a.address()))).isEqualTo(1.0);
    }

    @Test
    void twoHundredReloadsThatEachSwapTheBackendLeaveTheSeriesOfOneBackend() throws Exception {
        InetSocketAddress last = null;
        for (int i = 0; i < 200; i++) {
            try (ServerSocket backend = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
                last = (InetSocketAddress) backend.getLocalSocketAddress();
                nthlb.rewrite("iptables -t nat -A PREROUTING -d 127.0.0.1 -p tcp --dport " + vipPort
                        + " -j DNAT --to-destination 127.0.0.1:" + last.getPort() + "\n");
                assertThat(nthlb.client().post("/reload").status()).isEqualTo(200);
                try (Socket client = new Socket(InetAddress.getLoopbackAddress(), vipPort)) {
                    client.setSoTimeout(10_000);
                    backend.accept().close();
                    assertThat(client.getInputStream().read()).as("the backend's FIN, relayed").isEqualTo(-1);
                }
            }
        }
        String expected = format(last);
        PrometheusText text = Eventually.await(this::scrape, t -> backendLabels(t).equals(Set.of(expected)));
        assertThat(backendLabels(text)).containsExactly(expected);
        assertThat(text.sample("nthlb_reloads_total{result=\"applied\"}")).isEqualTo(200.0);
        assertThat(nthlb.metrics.backendsWithSeries()).isEqualTo(1);
    }

    @Test
    void aBackendOnlyKnownPerConnectionKeepsItsSeriesWhileTheTableCanStillSendThere() throws Exception {
        // REDIRECT on any address: the backend is the address each connection came to, listed nowhere.
        nthlb.rewrite("iptables -t nat -A PREROUTING -p tcp --dport " + vipPort + " -j REDIRECT --to-ports "
                + a.address().getPort() + "\n");
        assertThat(nthlb.client().post("/reload").status()).isEqualTo(200);
        assertThat(AdminPlaneTest.exchange(vipPort, "a")).isEqualTo("A:a");
        awaitSample("nthlb_upstream_cx_active" + label(a.address()), 0.0);

        assertThat(nthlb.client().post("/reload").status()).isEqualTo(200);

        assertThat(scrape().sample("nthlb_upstream_cx_total" + label(a.address()))).isEqualTo(1.0);
    }

    @Test
    void aBackendAConnectionWasRetriedAwayFromLosesItsSeriesWhenAReloadDropsIt() throws Exception {
        InetSocketAddress refusing;
        try (ServerSocket probe = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            refusing = (InetSocketAddress) probe.getLocalSocketAddress();
        }
        nthlb.close();
        nthlb = new RunningNthlb(dir, new SeedRules().vip(vipPort, refusing, b.address()).text(),
                new FailoverOptions(1, null, FailoverOptions.DEFAULT_FALL, FailoverOptions.DEFAULT_RISE));
        // Refused by the first backend, decided again, and relayed to B.
        assertThat(AdminPlaneTest.exchange(vipPort, "r")).isEqualTo("B:r");
        PrometheusText retried = awaitSample("nthlb_upstream_cx_active" + label(b.address()), 0.0);
        assertThat(retried.sample("nthlb_upstream_cx_connect_fail_total" + label(refusing))).isEqualTo(1.0);

        nthlb.rewrite(new SeedRules().vip(vipPort, b.address()).text());
        assertThat(nthlb.client().post("/reload").status()).isEqualTo(200);

        assertThat(backendLabels(scrape())).as("the retry let go of the refusing backend")
                .containsExactly(format(b.address()));
    }

    @Test
    void aReloadThatDropsABackendStopsItsHealthChecksAndForgetsIt() throws Exception {
        nthlb.close();
        nthlb = new RunningNthlb(dir, new SeedRules().vip(vipPort, a.address(), b.address()).text(),
                new FailoverOptions(0, Duration.ofMillis(50), FailoverOptions.DEFAULT_FALL,
                        FailoverOptions.DEFAULT_RISE));
        Eventually.until(() -> a.accepted.get() > 0 && b.accepted.get() > 0, "both backends checked");
        assertThat(scrape().sample("nthlb_upstream_up" + label(a.address()))).isEqualTo(1.0);

        nthlb.rewrite(new SeedRules().vip(vipPort, b.address()).text());
        assertThat(nthlb.client().post("/reload").status()).isEqualTo(200);
        int aChecks = a.accepted.get();
        int bChecks = b.accepted.get();

        String backends = nthlb.client().get("/backends").body();
        assertThat(backends).doesNotContain(format(a.address())).contains(format(b.address()) + " up ");
        PrometheusText text = scrape();
        assertThat(text.sample("nthlb_upstream_up" + label(a.address()))).isNull();
        assertThat(text.sample("nthlb_upstream_up" + label(b.address()))).isEqualTo(1.0);
        Eventually.until(() -> b.accepted.get() >= bChecks + 3, "three more checks of B");
        assertThat(a.accepted.get()).as("at most a check already under way when the reload came")
                .isLessThanOrEqualTo(aChecks + 1);
    }

    /** The backends named by any series. */
    private static Set<String> backendLabels(PrometheusText text) {
        Set<String> labels = new TreeSet<>();
        for (String key : text.samples.keySet()) {
            Matcher m = BACKEND_LABEL.matcher(key);
            if (m.find()) {
                labels.add(m.group(1));
            }
        }
        return labels;
    }

    private static String readGreeting(InputStream in) throws IOException {
        byte[] greeting = in.readNBytes(2);
        return new String(greeting, StandardCharsets.US_ASCII);
    }

    private static String format(InetSocketAddress address) {
        return address.getAddress().getHostAddress() + ":" + address.getPort();
    }

    private static String label(InetSocketAddress address) {
        return "{backend=\"" + format(address) + "\"}";
    }
}
