package io.nthlb.admin;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nthlb.balancer.ReloadOutcome;
import io.nthlb.proxy.ProxyOptions;
import io.nthlb.proxy.ProxyServer;
import io.nthlb.proxy.RelayObserver;
import io.nthlb.proxy.Route;
import io.nthlb.proxy.Transport;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
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

    /** The event loops /healthz probes: each test says how they answer. */
    private AdminServer.EventLoopProbe dataPlane = () -> List.of(CompletableFuture.completedFuture(null));

    private AdminServer start() throws IOException {
        return start(AdminServer.Limits.DEFAULT);
    }

    private AdminServer start(AdminServer.Limits limits) throws IOException {
        server = AdminServer.start(AdminAddress.parse("127.0.0.1:0"), false, ECHO, () -> {
            reloads.incrementAndGet();
            return nextReload.get();
        }, metrics.registry(), () -> dataPlane.probe(), limits);
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
    void backendsIsTheListingsBackendsText() throws Exception {
        start();
        HttpResponse<String> response = get("/backends");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).isEqualTo("backend state since checked_at last_error_at last_error\n");
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
        assertThatThrownBy(() -> AdminServer.start(wildcard, false, ECHO, () -> null, metrics.registry(), dataPlane))
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
                () -> null, metrics.registry(), dataPlane))
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

    @Test
    void anUnfinishedRequestDoesNotHoldUpHealthz() throws Exception {
        start();
        try (Socket unfinished = connect()) {
            unfinished.getOutputStream().write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n".getBytes(US_ASCII));
            HttpResponse<String> healthz = healthzWithin3s();
            assertThat(healthz.statusCode()).isEqualTo(200);
        }
    }

    @Test
    void aRequestThatDoesNotArriveInTimeIsAnswered408AndClosed() throws Exception {
        start(limits(64, Duration.ofMillis(300)));
        try (Socket unfinished = connect()) {
            unfinished.getOutputStream().write("GET /healthz HTTP/1.1\r\nHo".getBytes(US_ASCII));
            String answer = new String(unfinished.getInputStream().readAllBytes(), US_ASCII);
            assertThat(answer).startsWith("HTTP/1.1 408 Request Timeout\r\n").contains("connection: close\r\n");
        }
    }

    @Test
    void anIdleConnectionIsClosedSilentlyAtTheDeadline() throws Exception {
        start(limits(64, Duration.ofMillis(300)));
        try (Socket idle = connect()) {
            assertThat(idle.getInputStream().read()).isEqualTo(-1);
        }
    }

    @Test
    void slowSendersCannotLockHealthzOut() throws Exception {
        // Forty connections trickling a request a byte at a time against a cap of four: each new connection
        // closes the one that has waited longest, so /healthz always gets a turn.
        start(limits(4, Duration.ofSeconds(30)));
        List<Socket> slow = new ArrayList<>();
        try {
            for (int i = 0; i < 40; i++) {
                Socket socket = connect();
                slow.add(socket);
                socket.getOutputStream().write('G');
            }
            for (int round = 0; round < 5; round++) {
                for (Socket socket : slow) {
                    trickle(socket, 'E');
                }
                HttpResponse<String> healthz = healthzWithin3s();
                assertThat(healthz.body()).isEqualTo("ok\n");
            }
            // The longest waiting went first: at least all but the cap's worth of the slow ones are gone.
            for (Socket socket : slow.subList(0, 40 - 4)) {
                assertThat(closedByServer(socket)).isTrue();
            }
        } finally {
            closeAll(slow);
        }
    }

    @Test
    void clientsThatNeverCloseAfterTheirAnswerCannotLockHealthzOut() throws Exception {
        start(limits(4, Duration.ofSeconds(30)));
        List<Socket> lingering = new ArrayList<>();
        try {
            for (int i = 0; i < 10; i++) {
                Socket socket = connect();
                lingering.add(socket);
                // HTTP/1.0: answered, then the server waits for the client to close, which it never does.
                socket.getOutputStream().write("GET /healthz HTTP/1.0\r\n\r\n".getBytes(US_ASCII));
            }
            HttpResponse<String> healthz = healthzWithin3s();
            assertThat(healthz.body()).isEqualTo("ok\n");
        } finally {
            closeAll(lingering);
        }
    }

    @Test
    void healthzAnswersWhileAReloadRuns() throws Exception {
        CountDownLatch reloading = new CountDownLatch(1);
        CountDownLatch finish = new CountDownLatch(1);
        server = AdminServer.start(AdminAddress.parse("127.0.0.1:0"), false, ECHO, () -> {
            reloading.countDown();
            try {
                finish.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return ReloadOutcome.applied("reloaded seed.rules");
        }, metrics.registry(), dataPlane);
        CompletableFuture<HttpResponse<String>> reload = http.sendAsync(HttpRequest.newBuilder(uri("/reload"))
                .header(AdminServer.RELOAD_HEADER, "1").POST(HttpRequest.BodyPublishers.noBody()).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(reloading.await(10, TimeUnit.SECONDS)).isTrue();

        HttpResponse<String> healthz = healthzWithin3s();
        assertThat(healthz.body()).isEqualTo("ok\n");

        finish.countDown();
        assertThat(reload.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
    }

    @Test
    void healthzIs503WhenAnEventLoopDoesNotRunItsTask() throws Exception {
        dataPlane = () -> List.of(CompletableFuture.completedFuture(null), new CompletableFuture<Void>());
        start();
        HttpResponse<String> healthz = get("/healthz");
        assertThat(healthz.statusCode()).isEqualTo(503);
        assertThat(healthz.body()).isEqualTo("1 of 2 event loops did not run a task within 500 ms:"
                + " the data plane is stuck\n");
    }

    @Test
    void healthzIs503WhileAnEventLoopOfTheDataPlaneIsBlocked() throws Exception {
        CountDownLatch routing = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        // The router runs on the event loop that accepted the connection: blocking in it blocks that loop, as
        // a log that waits for its output would.
        ProxyServer proxy = ProxyServer.start(ProxyOptions.defaults(Transport.resolve(Transport.EPOLL)).withThreads(1),
                (client, local) -> {
                    routing.countDown();
                    try {
                        release.await(30, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    return Route.none("TEST");
                }, RelayObserver.NONE);
        try {
            InetSocketAddress vip = proxy.listen(List.of(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)))
                    .get(0);
            dataPlane = proxy::probeEventLoops;
            start();
            assertThat(get("/healthz").statusCode()).isEqualTo(200);
            try (Socket client = new Socket()) {
                client.connect(vip, 5000);
                assertThat(routing.await(10, TimeUnit.SECONDS)).isTrue();
                HttpResponse<String> stuck = get("/healthz");
                assertThat(stuck.statusCode()).isEqualTo(503);
                assertThat(stuck.body()).startsWith("1 of 1 event loops did not run a task within 500 ms");
                release.countDown();
                assertThat(get("/healthz").statusCode()).isEqualTo(200);
            }
        } finally {
            release.countDown();
            proxy.close();
        }
    }

    @Test
    void pipelinedRequestsAreAnsweredInOrder() throws Exception {
        start();
        String answers = raw("GET /save HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                + "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                + "GET /save?c HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        assertThat(answers.split("HTTP/1.1 200 OK\r\n")).hasSize(4);
        assertThat(answers.indexOf("save counters=false")).isLessThan(answers.indexOf("ok\n"));
        assertThat(answers.indexOf("ok\n")).isLessThan(answers.indexOf("save counters=true"));
    }

    @Test
    void aReloadWithABodyIsAnsweredAndTheBodyRead() throws Exception {
        start();
        nextReload.set(ReloadOutcome.applied("reloaded seed.rules"));
        HttpResponse<String> applied = http.send(HttpRequest.newBuilder(uri("/reload"))
                .header(AdminServer.RELOAD_HEADER, "1")
                .POST(HttpRequest.BodyPublishers.ofString("x".repeat(10_000))).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(applied.statusCode()).isEqualTo(200);
        assertThat(applied.body()).isEqualTo("reloaded seed.rules\n");
    }

    @Test
    void headIsAnsweredWithTheHeadersOnlyAndTheConnectionGoesOn() throws Exception {
        start();
        String answers = raw("HEAD /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                + "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        assertThat(answers).startsWith("HTTP/1.1 200 OK\r\n");
        String[] responses = answers.split("HTTP/1.1 ");
        assertThat(responses).hasSize(3);
        assertThat(responses[1]).contains("content-length: 3\r\n").endsWith("\r\n\r\n");
        assertThat(responses[2]).endsWith("\r\n\r\nok\n");
    }

    @Test
    void aHostThatIsNotThisEndpointIsRefused() throws Exception {
        start();
        assertThat(raw("GET http://evil.example/healthz HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n"))
                .startsWith("HTTP/1.1 403 Forbidden\r\n").contains("Host \"evil.example\" is not this endpoint");
        assertThat(raw("GET /rules HTTP/1.1\r\nHost: evil.example:9180\r\nConnection: close\r\n\r\n"))
                .startsWith("HTTP/1.1 403 ");
        assertThat(raw("GET http://evil.example/rules HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"))
                .startsWith("HTTP/1.1 403 ");
        assertThat(raw("GET /rules HTTP/1.1\r\nConnection: close\r\n\r\n")).startsWith("HTTP/1.1 403 ");
        for (String host : List.of("127.0.0.1", "127.0.0.1:9180", "localhost", "localhost:1", "[::1]", "[::1]:9180",
                "127.1.2.3")) {
            assertThat(raw("GET /healthz HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n"))
                    .as(host).startsWith("HTTP/1.1 200 OK\r\n");
        }
    }

    @Test
    void reloadWithoutItsHeaderIsRefusedAndNotRun() throws Exception {
        start();
        nextReload.set(ReloadOutcome.applied("reloaded seed.rules"));
        HttpResponse<String> refused = http.send(HttpRequest.newBuilder(uri("/reload"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString("a=b")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(refused.statusCode()).isEqualTo(403);
        assertThat(refused.body()).contains(AdminServer.RELOAD_HEADER);
        assertThat(reloads).hasValue(0);
    }

    @Test
    void aTenMegabyteBodyIs413BeforeAnyOfItIsSent() throws Exception {
        start();
        nextReload.set(ReloadOutcome.applied("reloaded seed.rules"));
        // Only the head is sent: the answer must come without the server waiting for the body.
        assertThat(raw("POST /reload HTTP/1.1\r\nHost: 127.0.0.1\r\n" + AdminServer.RELOAD_HEADER
                + ": 1\r\nContent-Length: 10485760\r\n\r\n"))
                .startsWith("HTTP/1.1 413 Request Entity Too Large\r\n");
        assertThat(reloads).hasValue(0);
    }

    @Test
    void aChunkedBodyOverTheLimitIs413() throws Exception {
        start(limits(64, Duration.ofSeconds(5)));
        String chunk = "400\r\n" + "x".repeat(1024) + "\r\n";
        assertThat(raw("POST /reload HTTP/1.1\r\nHost: 127.0.0.1\r\n" + AdminServer.RELOAD_HEADER
                + ": 1\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk.repeat(3)))
                .startsWith("HTTP/1.1 413 ");
        assertThat(reloads).hasValue(0);
    }

    @Test
    void aLongRequestLineIs414AndLongHeadersAre431() throws Exception {
        start();
        assertThat(raw("GET /rules?chain=" + "A".repeat(5000) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
                .startsWith("HTTP/1.1 414 ");
        assertThat(raw("GET /rules HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: " + "a".repeat(9000) + "\r\n\r\n"))
                .startsWith("HTTP/1.1 431 ");
    }

    @Test
    void aMalformedQueryIs400NotAnInternalError() throws Exception {
        start();
        assertThat(raw("GET /rules?chain=%zz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"))
                .startsWith("HTTP/1.1 400 Bad Request\r\n")
                .contains("\r\n\r\nmalformed request target \"/rules?chain=%zz\": ");
    }

    @Test
    void otherMethodsAre405WithTheMethodsAllowed() throws Exception {
        start();
        HttpResponse<String> delete = http.send(HttpRequest.newBuilder(uri("/rules")).DELETE().build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(delete.statusCode()).isEqualTo(405);
        assertThat(delete.headers().firstValue("Allow")).hasValue("GET, HEAD");
        assertThat(raw("OPTIONS /reload HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://evil.example\r\n"
                + "Connection: close\r\n\r\n")).startsWith("HTTP/1.1 405 ").contains("allow: POST\r\n")
                .doesNotContainIgnoringCase("access-control");
    }

    @Test
    void nothingIsServedOutsideTheDocumentedPaths() throws Exception {
        start();
        for (String path : List.of("/", "/healthz/", "//healthz", "/%68ealthz", "/rules/x", "/../rules")) {
            assertThat(raw("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"))
                    .as(path).startsWith("HTTP/1.1 404 ");
        }
    }

    /** {@code GET /healthz}, failing the test if the answer takes more than three seconds. */
    private HttpResponse<String> healthzWithin3s() throws Exception {
        return http.send(HttpRequest.newBuilder(uri("/healthz")).timeout(Duration.ofSeconds(3)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** Closes them all; the server may have closed some already. */
    private static void closeAll(List<Socket> sockets) throws IOException {
        for (Socket socket : sockets) {
            socket.close();
        }
    }

    private static AdminServer.Limits limits(int maxConnections, Duration requestTimeout) {
        AdminServer.Limits d = AdminServer.Limits.DEFAULT;
        return new AdminServer.Limits(maxConnections, requestTimeout, d.maxRequestLine(), d.maxHeaderBytes(),
                2048, d.healthBound());
    }

    private Socket connect() throws IOException {
        Socket socket = new Socket();
        socket.connect(server.address().socketAddress(), 5000);
        socket.setSoTimeout(5000);
        return socket;
    }

    /** Sends the bytes as they are and reads until the server closes (at most five seconds of silence). */
    private String raw(String request) throws IOException {
        try (Socket socket = connect()) {
            socket.getOutputStream().write(request.getBytes(US_ASCII));
            return new String(socket.getInputStream().readAllBytes(), US_ASCII);
        }
    }

    /** One more byte, if the server has not closed the connection yet. */
    private static void trickle(Socket socket, char c) {
        try {
            socket.getOutputStream().write(c);
        } catch (IOException e) {
            // Closed by the server to make room: what the cap is for.
        }
    }

    private static boolean closedByServer(Socket socket) throws IOException {
        try {
            return socket.getInputStream().read() == -1;
        } catch (java.net.SocketTimeoutException e) {
            return false;
        } catch (java.net.SocketException e) {
            return true; // reset: the server closed it with our bytes unread
        }
    }

    private HttpResponse<String> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(uri(path)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> post(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(uri(path)).header(AdminServer.RELOAD_HEADER, "1")
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    }

    private URI uri(String path) {
        return URI.create("http://" + server.address().authority() + path);
    }
}
