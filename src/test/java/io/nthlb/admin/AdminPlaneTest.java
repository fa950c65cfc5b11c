package io.nthlb.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nthlb.testing.Eventually;
import io.nthlb.testing.FreePort;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** A whole nthlb on loopback: real connections through the data plane, then metrics and reloads over HTTP. */
class AdminPlaneTest extends SeedOnLoopback {

    @Test
    void tenConnectionsThroughTheSeedShowFiveInEachRulesCounter() throws Exception {
        List<String> served = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            served.add(exchange(vipPort, "hello").substring(0, 1));
        }

        assertThat(served).containsExactly("A", "B", "A", "B", "A", "B", "A", "B", "A", "B");
        PrometheusText metrics = scrape();
        assertThat(metrics.sample("nthlb_rule_connections_total{chain=\"PREROUTING\",rule=\"1\"}")).isEqualTo(5.0);
        assertThat(metrics.sample("nthlb_rule_connections_total{chain=\"PREROUTING\",rule=\"2\"}")).isEqualTo(5.0);
        // "hello" out, "A:hello" back: 12 payload bytes per connection, both directions.
        assertThat(metrics.sample("nthlb_rule_bytes_total{chain=\"PREROUTING\",rule=\"1\"}")).isEqualTo(60.0);
        String backendA = "{backend=\"" + a.address().getAddress().getHostAddress() + ":" + a.address().getPort() + "\"}";
        assertThat(metrics.sample("nthlb_upstream_cx_total" + backendA)).isEqualTo(5.0);
        assertThat(metrics.sample("nthlb_upstream_cx_tx_bytes_total" + backendA)).isEqualTo(25.0);
        assertThat(metrics.sample("nthlb_upstream_cx_rx_bytes_total" + backendA)).isEqualTo(35.0);
        assertThat(metrics.sample("nthlb_downstream_cx_total{listener=\"127.0.0.1:" + vipPort + "\"}")).isEqualTo(10.0);
        assertThat(metrics.sample("nthlb_listeners")).isEqualTo(1.0);
        assertThat(metrics.sample("nthlb_chain_policy_connections_total{chain=\"PREROUTING\"}")).isEqualTo(0.0);
    }

    @Test
    void connectionsAreCountedUnderTheListenerThatAcceptedThem() throws Exception {
        // No -d: one wildcard listener, reached here through two loopback addresses.
        int port = FreePort.onLoopback();
        nthlb.rewrite("iptables -t nat -A PREROUTING -p tcp --dport " + port
                + " -j DNAT --to-destination 127.0.0.1:" + a.address().getPort() + "\n");
        assertThat(nthlb.client().post("/reload").status()).isEqualTo(200);

        for (String vip : List.of("127.0.0.1", "127.0.0.2")) {
            try (Socket socket = new Socket(InetAddress.getByName(vip), port)) {
                socket.setSoTimeout(10_000);
                socket.getOutputStream().write('x');
                socket.shutdownOutput();
                assertThat(socket.getInputStream().readAllBytes()).asString(StandardCharsets.US_ASCII).isEqualTo("A:x");
            }
        }

        // Accept errors are counted per listening socket too, so both series name the socket, not the VIP.
        PrometheusText metrics = scrape();
        assertThat(metrics.sample("nthlb_downstream_cx_total{listener=\"0.0.0.0:" + port + "\"}")).isEqualTo(2.0);
        assertThat(metrics.sample("nthlb_downstream_cx_total{listener=\"127.0.0.2:" + port + "\"}")).isNull();
    }

    @Test
    void aConnectFailureIsCountedAgainstItsBackend() throws Exception {
        InetSocketAddress nowhere = new InetSocketAddress(InetAddress.getLoopbackAddress(), FreePort.onLoopback());
        nthlb.rewrite(new SeedRules().vip(vipPort, nowhere).text());
        assertThat(nthlb.client().post("/reload").status()).isEqualTo(200);

        assertThatThrownBy(() -> exchange(vipPort, "x")).isInstanceOf(IOException.class);

        String label = "{backend=\"127.0.0.1:" + nowhere.getPort() + "\"}";
        PrometheusText metrics = awaitSample("nthlb_upstream_cx_connect_fail_total" + label, 1.0);
        assertThat(metrics.sample("nthlb_upstream_cx_active" + label)).isEqualTo(0.0);
    }

    @Test
    void aBackendResetIsCountedAgainstItsBackend() throws Exception {
        try (ServerSocket resetting = new ServerSocket(0, 10, InetAddress.getLoopbackAddress())) {
            nthlb.rewrite(new SeedRules().vip(vipPort, (InetSocketAddress) resetting.getLocalSocketAddress()).text());
            assertThat(nthlb.client().post("/reload").status()).isEqualTo(200);

            try (Socket client = new Socket(InetAddress.getLoopbackAddress(), vipPort);
                 Socket accepted = resetting.accept()) {
                // A byte through proves nthlb's side is connected (it reads the client only then), so the
                // reset below hits a relayed connection, not a connect still in progress.
                client.getOutputStream().write('x');
                assertThat(accepted.getInputStream().read()).isEqualTo('x');
                accepted.setSoLinger(true, 0);
                accepted.close();
                client.setSoTimeout(10_000);
                assertThatThrownBy(() -> client.getInputStream().read()).isInstanceOf(IOException.class);
            }

            awaitSample("nthlb_upstream_cx_reset_total{backend=\"127.0.0.1:" + resetting.getLocalPort() + "\"}", 1.0);
        }
    }

    @Test
    void aBackendThatStopsReadingPausesReadingFromTheClient() throws Exception {
        // Never accepted, never read: the kernel queues the connection and fills its buffers, then nthlb's.
        try (ServerSocket silent = new ServerSocket(0, 10, InetAddress.getLoopbackAddress());
             Socket client = new Socket()) {
            nthlb.rewrite(new SeedRules().vip(vipPort, (InetSocketAddress) silent.getLocalSocketAddress()).text());
            assertThat(nthlb.client().post("/reload").status()).isEqualTo(200);
            client.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), vipPort));
            Thread writer = new Thread(() -> {
                byte[] chunk = new byte[64 * 1024];
                try {
                    while (true) {
                        client.getOutputStream().write(chunk);
                    }
                } catch (IOException e) {
                    // The test closed the socket: done.
                }
            }, "flooding-client");
            writer.setDaemon(true);
            writer.start();

            String key = "nthlb_downstream_flow_control_paused_reading_total{backend=\"127.0.0.1:"
                    + silent.getLocalPort() + "\"}";
            PrometheusText metrics = Eventually.await(this::scrape, m -> m.sample(key) != null && m.sample(key) >= 1);
            assertThat(metrics.sample(key)).isGreaterThanOrEqualTo(1.0);
        }
    }

    @Test
    void reloadOfTheSameRulesStartsCountersAndTheNthRotationOverAsIptablesRestore() throws Exception {
        assertThat(exchange(vipPort, "1")).startsWith("A:");
        assertThat(exchange(vipPort, "2")).startsWith("B:");
        assertThat(exchange(vipPort, "3")).startsWith("A:");

        AdminClient.Response reload = nthlb.client().post("/reload");

        assertThat(reload.status()).isEqualTo(200);
        assertThat(exchange(vipPort, "4")).startsWith("A:");
        PrometheusText metrics = scrape();
        assertThat(metrics.sample("nthlb_rule_connections_total{chain=\"PREROUTING\",rule=\"1\"}")).isEqualTo(1.0);
        assertThat(metrics.sample("nthlb_rule_connections_total{chain=\"PREROUTING\",rule=\"2\"}")).isEqualTo(0.0);
    }

    @Test
    void withReloadKeepsCountersAReloadOfTheSameRulesKeepsCountersAndTheNthRotation() throws Exception {
        nthlb.keepCountersOnReload();
        assertThat(exchange(vipPort, "1")).startsWith("A:");
        assertThat(exchange(vipPort, "2")).startsWith("B:");
        assertThat(exchange(vipPort, "3")).startsWith("A:");

        AdminClient.Response reload = nthlb.client().post("/reload");

        assertThat(reload.status()).isEqualTo(200);
        assertThat(reload.body()).isEqualTo("reloaded " + nthlb.file + ": 2 rules\n");
        // The kernel would restart the rotation at A; asked to, nthlb carries on where it was.
        assertThat(exchange(vipPort, "4")).startsWith("B:");
        PrometheusText metrics = scrape();
        assertThat(metrics.sample("nthlb_rule_connections_total{chain=\"PREROUTING\",rule=\"1\"}")).isEqualTo(2.0);
        assertThat(metrics.sample("nthlb_rule_connections_total{chain=\"PREROUTING\",rule=\"2\"}")).isEqualTo(2.0);
        assertThat(metrics.sample("nthlb_reloads_total{result=\"applied\"}")).isEqualTo(1.0);
    }

    @Test
    void anInvalidFileChangesNothingAndAnswers400WithTheErrors() throws Exception {
        exchange(vipPort, "1");
        var before = nthlb.table();
        nthlb.rewrite(new SeedRules().vip(vipPort, a.address()).text()
                + "iptables -t nat -A PREROUTING -p tcp --dport 81 -m statistic --mode nope -j ACCEPT\n");

        AdminClient.Response reload = nthlb.client().post("/reload");

        assertThat(reload.status()).isEqualTo(400);
        assertThat(reload.body()).isEqualTo(nthlb.file + ":2: Bad mode \"nope\"\n");
        assertThat(nthlb.table()).isSameAs(before);
        assertThat(exchange(vipPort, "2")).startsWith("B:");
        assertThat(scrape().sample("nthlb_reloads_total{result=\"rejected\"}")).isEqualTo(1.0);
    }

    @Test
    void anOpenConnectionGoesOnUntouchedWhileNewOnesFollowTheNewRules() throws Exception {
        try (Socket open = new Socket(InetAddress.getLoopbackAddress(), vipPort)) {
            OutputStream out = open.getOutputStream();
            InputStream in = open.getInputStream();
            out.write("before".getBytes(StandardCharsets.US_ASCII));
            assertThat(new String(in.readNBytes(8), StandardCharsets.US_ASCII)).isEqualTo("A:before");

            // Everything to B now.
            nthlb.rewrite(new SeedRules().vip(vipPort, b.address()).text());
            assertThat(nthlb.client().post("/reload").status()).isEqualTo(200);
            assertThat(exchange(vipPort, "new")).isEqualTo("B:new");
            assertThat(exchange(vipPort, "new")).isEqualTo("B:new");

            out.write("after".getBytes(StandardCharsets.US_ASCII));
            open.shutdownOutput();
            assertThat(new String(in.readAllBytes(), StandardCharsets.US_ASCII)).isEqualTo("after");
        }
    }

    @Test
    void listenersAreOpenedAndClosedToMatchTheNewRules() throws Exception {
        int second = FreePort.onLoopback();
        nthlb.rewrite(
                new SeedRules().vip(vipPort, a.address()).vip(second, b.address()).text());

        AdminClient.Response added = nthlb.client().post("/reload");

        assertThat(added.status()).isEqualTo(200);
        assertThat(added.body()).isEqualTo("reloaded " + nthlb.file + ": 2 rules; opened 127.0.0.1:" + second + "\n");
        assertThat(exchange(second, "x")).isEqualTo("B:x");
        assertThat(exchange(vipPort, "y")).isEqualTo("A:y");

        nthlb.rewrite(new SeedRules().vip(second, b.address()).text());
        AdminClient.Response removed = nthlb.client().post("/reload");

        assertThat(removed.body()).isEqualTo("reloaded " + nthlb.file + ": 1 rule; closed 127.0.0.1:" + vipPort + "\n");
        assertThatThrownBy(() -> exchange(vipPort, "z")).isInstanceOf(ConnectException.class);
        assertThat(exchange(second, "z")).isEqualTo("B:z");
    }

    @Test
    void aListenerThatCannotOpenLeavesTheOldTableAndListeners() throws Exception {
        try (ServerSocket squatter = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            var before = nthlb.table();
            nthlb.rewrite(new SeedRules().vip(vipPort, a.address())
                    .vip(squatter.getLocalPort(), b.address()).text());

            AdminClient.Response reload = nthlb.client().post("/reload");

            assertThat(reload.status()).isEqualTo(500);
            assertThat(reload.body()).startsWith("cannot listen on 127.0.0.1:" + squatter.getLocalPort());
            assertThat(nthlb.table()).isSameAs(before);
            assertThat(nthlb.listeners().addresses()).containsExactly(new InetSocketAddress("127.0.0.1", vipPort));
        }
    }

    @Test
    void tenReloadsUnderContinuousLoadFailNoConnectionAndLoseNoByte() throws Exception {
        String seed = new SeedRules().vip(vipPort, a.address(), b.address()).text();
        String swapped = new SeedRules().vip(vipPort, b.address(), a.address()).text();
        AtomicBoolean running = new AtomicBoolean(true);
        Semaphore completed = new Semaphore(0);
        AtomicLong bytesSent = new AtomicLong();
        AtomicLong bytesEchoed = new AtomicLong();
        int clients = 4;
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        List<Future<Long>> results = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            int client = c;
            results.add(pool.submit(() -> {
                // Connects without pause until told to stop; any failure ends the test through the Future.
                long n = 0;
                while (running.get()) {
                    String payload = "client " + client + " connection " + n + " " + "x".repeat(2000);
                    String answer = exchange(vipPort, payload);
                    bytesSent.addAndGet(payload.length());
                    bytesEchoed.addAndGet(answer.length() - 2);
                    assertThat(answer.substring(2)).isEqualTo(payload);
                    n++;
                    completed.release();
                }
                return n;
            }));
        }
        try {
            for (int i = 0; i < 10; i++) {
                nthlb.rewrite(i % 2 == 0 ? swapped : seed);
                assertThat(nthlb.client().post("/reload").status()).isEqualTo(200);
                // Wait until traffic has flowed since this reload, so each reload happens under load.
                completed.drainPermits();
                assertThat(completed.tryAcquire(20, 30, TimeUnit.SECONDS)).isTrue();
            }
        } finally {
            running.set(false);
            pool.shutdown();
        }
        long connections = 0;
        for (Future<Long> result : results) {
            connections += result.get(30, TimeUnit.SECONDS);
        }
        assertThat(connections).isGreaterThanOrEqualTo(200);
        assertThat(bytesEchoed.get()).isEqualTo(bytesSent.get());
        PrometheusText metrics = scrape();
        assertThat(metrics.sample("nthlb_reloads_total{result=\"applied\"}")).isEqualTo(10.0);
        // The data plane's own count agrees: every connection reached a backend, every byte went both ways.
        // (Rule counters are no check here: each reload changes the rules' targets, so they start afresh.)
        String backendA = "{backend=\"127.0.0.1:" + a.address().getPort() + "\"}";
        String backendB = "{backend=\"127.0.0.1:" + b.address().getPort() + "\"}";
        assertThat(metrics.sample("nthlb_upstream_cx_total" + backendA)
                + metrics.sample("nthlb_upstream_cx_total" + backendB)).isEqualTo((double) connections);
        assertThat(metrics.sample("nthlb_upstream_cx_tx_bytes_total" + backendA)
                + metrics.sample("nthlb_upstream_cx_tx_bytes_total" + backendB)).isEqualTo((double) bytesSent.get());
        assertThat(metrics.sample("nthlb_upstream_cx_connect_fail_total" + backendA)
                + metrics.sample("nthlb_upstream_cx_connect_fail_total" + backendB)).isZero();
        assertThat(a.accepted.get() + b.accepted.get()).isEqualTo((int) connections);
    }

    /** Connects to the VIP, sends {@code payload}, half-closes, and reads everything back. */
    static String exchange(int port, String payload) throws IOException {
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(payload.getBytes(StandardCharsets.US_ASCII));
            socket.shutdownOutput();
            byte[] answer = socket.getInputStream().readAllBytes();
            if (answer.length == 0) {
                throw new IOException("connection closed without an answer");
            }
            return new String(answer, StandardCharsets.US_ASCII);
        }
    }
}
