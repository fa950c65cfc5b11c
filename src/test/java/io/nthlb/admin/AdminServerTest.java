package io.nthlb.admin;

import io.nthlb.balancer.ReloadOutcome;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class AdminServerTest {

    /** A listing that writes back what it was asked, so the test sees how the endpoint read the request. */
    private static final TableListing ECHO = new TableListing() {
        @Override
        public String list(String chain, boolean exact) {
            if ("NOSUCH".equals(chain)) {
                throw new NoSuchChainException(chain);
            }
            return "list chain=" + chain + " exact=" + exact + "\n";
        }

        @Override
        public String save(boolean counters) {
            return "save counters=" + counters + "\n";
        }
    };

    private final PrometheusMetrics metrics = new PrometheusMetrics();
    private final AtomicReference<ReloadOutcome> nextReload = new AtomicReference<>();
    private final AtomicInteger reloads = new AtomicInteger();
    private final HttpClient http = HttpClient.newHttpClient();
    private AdminServer server;

    private AdminServer start() throws IOException {
        server = AdminServer.start(AdminAddress.parse("127.0.0.1:0"), false, ECHO, () -> {
            reloads.incrementAndGet();
            return nextReload.get();
        }, metrics.registry());
        return server;
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void rulesPassesTheChainAndXThrough() throws Exception {
        start();
        assertThat(get("/rules").body()).isEqualTo("list chain=null exact=false\n");
        assertThat(get("/rules?x").body()).isEqualTo("list chain=null exact=true\n");
        assertThat(get("/rules?chain=KUBE-SVC-A%2FB&x").body()).isEqualTo("list chain=KUBE-SVC-A/B exact=true\n");
    }

    @Test
    void anUnknownChainIs404InIptablesWords() throws Exception {
        start();
        HttpResponse<String> response = get("/rules?chain=NOSUCH");
        assertThat(response.statusCode()).isEqualTo(404);
        assertThat(response.body()).isEqualTo("iptables: No chain/target/match by that name.\n");
    }

    @Test
    void saveAddsCountersOnlyWhenAskedWithC() throws Exception {
        start();
        assertThat(get("/save").body()).isEqualTo("save counters=false\n");
        assertThat(get("/save?c").body()).isEqualTo("save counters=true\n");
    }

    @Test
    void healthzAnswersOk() throws Exception {
        start();
        HttpResponse<String> response = get("/healthz");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).isEqualTo("ok\n");
    }

    @Test
    void reloadAnswersWithTheOutcomesStatusAndMessages() throws Exception {
        start();
        nextReload.set(ReloadOutcome.applied("reloaded seed.rules"));
        HttpResponse<String> applied = post("/reload");
        assertThat(applied.statusCode()).isEqualTo(200);
        assertThat(applied.body()).isEqualTo("reloaded seed.rules\n");

        nextReload.set(ReloadOutcome.rejected(List.of("seed.rules:3: Bad mode \"nope\"",
                "seed.rules:4: the --packet p must be 0 <= p <= n-1")));
        HttpResponse<String> rejected = post("/reload");
        assertThat(rejected.statusCode()).isEqualTo(400);
        assertThat(rejected.body()).isEqualTo(
                "seed.rules:3: Bad mode \"nope\"\nseed.rules:4: the --packet p must be 0 <= p <= n-1\n");
        assertThat(reloads).hasValue(2);
    }

    @Test
    void reloadTakesOnlyPostAndTheOthersOnlyGet() throws Exception {
        start();
        HttpResponse<String> getReload = get("/reload");
        assertThat(getReload.statusCode()).isEqualTo(405);
        assertThat(getReload.headers().firstValue("Allow")).hasValue("POST");
        assertThat(reloads).hasValue(0);
        assertThat(post("/rules").statusCode()).isEqualTo(405);
    }

    @Test
    void anUnknownPathIs404() throws Exception {
        start();
        assertThat(get("/nope").statusCode()).isEqualTo(404);
    }

    @Test
    void metricsAreThePrometheusTextFormat() throws Exception {
        start();
        metrics.backend(new java.net.InetSocketAddress("127.0.0.1", 8081)).sentToBackend(7);

        HttpResponse<String> response = get("/metrics");

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Type"))
                .hasValue("text/plain; version=0.0.4; charset=utf-8");
        PrometheusText text = PrometheusText.parse(response.body());
        assertThat(text.sample("nthlb_upstream_cx_tx_bytes_total{backend=\"127.0.0.1:8081\"}")).isEqualTo(7.0);
    }

    @Test
    void metricsAreOpenMetricsWhenTheScraperAsksForIt() throws Exception {
        start();
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(uri("/metrics"))
                .header("Accept", "application/openmetrics-text; version=1.0.0; charset=utf-8").build(),
                HttpResponse.BodyHandlers.ofString());

        assertThat(response.headers().firstValue("Content-Type")).get().asString()
                .startsWith("application/openmetrics-text");
        assertThat(response.body()).endsWith("# EOF\n");
    }

    @Test
    void refusesToBindANonLoopbackAddressWithoutTheFlag() throws Exception {
        // Find a free port, then ask for it on the wildcard address: the refusal must come before any bind.
        int port;
        try (ServerSocket probe = new ServerSocket(0)) {
            port = probe.getLocalPort();
        }
        AdminAddress wildcard = AdminAddress.parse("0.0.0.0:" + port);
        assertThatThrownBy(() -> AdminServer.start(wildcard, false, ECHO, () -> null, metrics.registry()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("--admin-allow-remote");
        try (ServerSocket stillFree = new ServerSocket(port)) {
            assertThat(stillFree.getLocalPort()).isEqualTo(port);
        }
    }

    @Test
    void aTakenPortIsAnErrorThatSaysWhatToDo() throws Exception {
        int port = start().address().socketAddress().getPort();
        assertThatThrownBy(() -> AdminServer.start(AdminAddress.parse("127.0.0.1:" + port), false, ECHO,
                () -> null, metrics.registry()))
                .isInstanceOf(IOException.class)
                .hasMessageStartingWith("cannot listen on 127.0.0.1:" + port + " for the admin endpoint: ")
                .hasMessageEndingWith("(choose another with --admin HOST:PORT, or turn it off with --admin off)");
    }

    @Test
    void closeReleasesThePort() throws Exception {
        int port = start().address().socketAddress().getPort();
        server.close();
        server = null;
        try (ServerSocket again = new ServerSocket(port, 1, java.net.InetAddress.getLoopbackAddress())) {
            assertThat(again.getLocalPort()).isEqualTo(port);
        }
    }

    private HttpResponse<String> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(uri(path)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> post(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(uri(path)).POST(HttpRequest.BodyPublishers.noBody()).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private URI uri(String path) {
        return URI.create("http://" + server.address().authority() + path);
    }
}
