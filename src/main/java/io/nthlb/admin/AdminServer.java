package io.nthlb.admin;

import io.nthlb.balancer.ReloadOutcome;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.prometheus.metrics.expositionformats.ExpositionFormatWriter;
import io.prometheus.metrics.expositionformats.ExpositionFormats;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin endpoint of a running nthlb: plain HTTP, on loopback unless told otherwise.
 *
 * <ul>
 *   <li>{@code GET /rules} the table as {@code iptables -t nat -nvL} prints it; {@code ?x} for exact
 *       numbers, {@code ?chain=NAME} for one chain</li>
 *   <li>{@code GET /save} the table as {@code iptables-save}; {@code ?c} adds the counters</li>
 *   <li>{@code GET /metrics} Prometheus text format (OpenMetrics when the scraper asks for it)</li>
 *   <li>{@code GET /healthz} {@code ok}</li>
 *   <li>{@code POST /reload} rereads the rules file: 200 applied, 400 with the file's errors, 500 not applied</li>
 * </ul>
 *
 * <p>Requests are served one at a time on a thread of its own, so the admin never runs on (or waits for)
 * the data plane's event loops, and two reloads can never interleave.
 */
public final class AdminServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(AdminServer.class);
    private static final String TEXT = "text/plain; charset=utf-8";

    private final HttpServer server;
    private final ExecutorService executor;
    private final TableListing table;
    private final ReloadAction reload;
    private final PrometheusRegistry registry;
    private final ExpositionFormats formats = ExpositionFormats.init();

    private AdminServer(HttpServer server, ExecutorService executor, TableListing table, ReloadAction reload,
                        PrometheusRegistry registry) {
        this.server = server;
        this.executor = executor;
        this.table = table;
        this.reload = reload;
        this.registry = registry;
    }

    /**
     * Binds and starts serving.
     *
     * @param allowRemote whether a non-loopback address may be bound; the admin endpoint has no
     *                    authentication, so listening beyond loopback has to be asked for explicitly
     * @throws IllegalArgumentException for a non-loopback address without {@code allowRemote}
     * @throws IOException              when the address cannot be bound; the message says what to do
     */
    public static AdminServer start(AdminAddress address, boolean allowRemote, TableListing table,
                                    ReloadAction reload, PrometheusRegistry registry) throws IOException {
        address.requireListenable(allowRemote);
        HttpServer server;
        try {
            server = HttpServer.create(address.socketAddress(), 0);
        } catch (IOException e) {
            throw new IOException("cannot listen on " + address + " for the admin endpoint: " + e.getMessage()
                    + " (choose another with --admin HOST:PORT, or turn it off with --admin off)", e);
        }
        ExecutorService executor = Executors.newSingleThreadExecutor(runnable -> {
            Thread thread = new Thread(runnable, "nthlb-admin");
            thread.setDaemon(true);
            return thread;
        });
        server.setExecutor(executor);
        AdminServer admin = new AdminServer(server, executor, table, reload, registry);
        server.createContext("/", admin::handle);
        server.start();
        log.info("admin endpoint listening on http://{}/", admin.address());
        return admin;
    }

    /** The bound address (with the actual port when started on port 0). */
    public AdminAddress address() {
        return new AdminAddress(server.getAddress());
    }

    /** Stops accepting and releases the port; a request still in progress is cut off. */
    @Override
    public void close() {
        // stop(n > 0) sleeps the whole n seconds on JDK 17 even when idle; nothing served here
        // is worth holding a shutdown for.
        server.stop(0);
        executor.shutdown();
        try {
            executor.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String path = exchange.getRequestURI().getPath();
            Map<String, String> query = query(exchange.getRequestURI().getRawQuery());
            switch (path) {
                case "/rules" -> {
                    if (allow(exchange, "GET")) {
                        rules(exchange, query);
                    }
                }
                case "/save" -> {
                    if (allow(exchange, "GET")) {
                        send(exchange, 200, TEXT, table.save(query.containsKey("c")));
                    }
                }
                case "/metrics" -> {
                    if (allow(exchange, "GET")) {
                        metrics(exchange);
                    }
                }
                case "/healthz" -> {
                    if (allow(exchange, "GET")) {
                        send(exchange, 200, TEXT, "ok\n");
                    }
                }
                case "/reload" -> {
                    if (allow(exchange, "POST")) {
                        ReloadOutcome outcome = reload.reload();
                        send(exchange, outcome.status().httpStatus(), TEXT, outcome.text());
                    }
                }
                default -> send(exchange, 404, TEXT,
                        "no such endpoint: " + path + " (expected: /rules, /save, /metrics, /healthz, /reload)\n");
            }
        } catch (RuntimeException e) {
            // A bug, not a user's doing: log it with its trace, and answer rather than drop the connection.
            log.error("admin request {} {} failed", exchange.getRequestMethod(), exchange.getRequestURI(), e);
            send(exchange, 500, TEXT, "internal error: " + e + "\n");
        }
    }

    private void rules(HttpExchange exchange, Map<String, String> query) throws IOException {
        String chain = query.get("chain");
        try {
            send(exchange, 200, TEXT, table.list(chain == null || chain.isEmpty() ? null : chain,
                    query.containsKey("x")));
        } catch (NoSuchChainException e) {
            send(exchange, 404, TEXT, NoSuchChainException.MESSAGE + "\n");
        }
    }

    private void metrics(HttpExchange exchange) throws IOException {
        ExpositionFormatWriter writer = formats.findWriter(exchange.getRequestHeaders().getFirst("Accept"));
        ByteArrayOutputStream body = new ByteArrayOutputStream(16 * 1024);
        writer.write(body, registry.scrape());
        send(exchange, 200, writer.getContentType(), body.toByteArray());
    }

    private static boolean allow(HttpExchange exchange, String method) throws IOException {
        if (exchange.getRequestMethod().equals(method)) {
            return true;
        }
        exchange.getResponseHeaders().set("Allow", method);
        send(exchange, 405, TEXT, exchange.getRequestURI().getPath() + " takes " + method + "\n");
        return false;
    }

    private static void send(HttpExchange exchange, int status, String contentType, String body)
            throws IOException {
        send(exchange, status, contentType, body.getBytes(StandardCharsets.UTF_8));
    }

    private static void send(HttpExchange exchange, int status, String contentType, byte[] body)
            throws IOException {
        exchange.getResponseHeaders().set("Content-Type", contentType);
        exchange.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        if (body.length > 0) {
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        }
    }

    /** {@code a&b=c} as {@code {a: "", b: "c"}}: a bare key is a flag, as in {@code /rules?x}. */
    static Map<String, String> query(String rawQuery) {
        Map<String, String> params = new HashMap<>();
        if (rawQuery == null || rawQuery.isEmpty()) {
            return params;
        }
        for (String pair : rawQuery.split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            String key = eq < 0 ? pair : pair.substring(0, eq);
            String value = eq < 0 ? "" : pair.substring(eq + 1);
            params.put(URLDecoder.decode(key, StandardCharsets.UTF_8), URLDecoder.decode(value, StandardCharsets.UTF_8));
        }
        return params;
    }
}
