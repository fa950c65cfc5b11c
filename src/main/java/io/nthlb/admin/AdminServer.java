package io.nthlb.admin;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.ScheduledFuture;
import io.nthlb.balancer.ReloadOutcome;
import io.prometheus.metrics.expositionformats.ExpositionFormatWriter;
import io.prometheus.metrics.expositionformats.ExpositionFormats;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin endpoint of a running nthlb: HTTP/1.1, on loopback unless told otherwise.
 *
 * <ul>
 *   <li>{@code GET /rules} the table as {@code iptables -t nat -nvL} prints it; {@code ?x} for exact
 *       numbers, {@code ?chain=NAME} for one chain</li>
 *   <li>{@code GET /save} the table as {@code iptables-save}; {@code ?c} adds the counters</li>
 *   <li>{@code GET /backends} the backends and their health, one per line</li>
 *   <li>{@code GET /metrics} Prometheus text format (OpenMetrics when the scraper asks for it)</li>
 *   <li>{@code GET /healthz} {@code ok} when every event loop of the data plane runs a task within
 *       {@link Limits#healthBound}, 503 otherwise</li>
 *   <li>{@code POST /reload} with the header {@value #RELOAD_HEADER}: rereads the rules file; 200 applied,
 *       400 with the file's errors, 500 not applied</li>
 * </ul>
 *
 * <p>Anything on the host can connect, a browser's web pages included, so the endpoint trusts no client: the
 * request line, headers and body are bounded; a whole request must arrive within {@link Limits#requestTimeout}
 * of the connection opening (or of the previous answer on it); at most {@link Limits#maxConnections} are open,
 * and when a new one would exceed that, the one that has waited longest without sending a whole request (or,
 * answered, without closing) is closed, so slow senders cannot lock {@code /healthz} out. Only a Host that
 * names this endpoint is answered (DNS rebinding), and {@code POST /reload} needs a header no cross-site form
 * can send.
 *
 * <p>I/O runs on one event-loop thread of its own, never the data plane's. {@code /healthz} is answered there;
 * everything else runs on one worker thread, a request at a time, so two reloads never interleave and a
 * reload never holds up {@code /healthz}.
 */
public final class AdminServer implements AutoCloseable {

    /** The header {@code POST /reload} requires (any value); {@code nthlb reload} sends it. */
    public static final String RELOAD_HEADER = "Nthlb-Reload";

    /**
     * How much a client may ask of the endpoint.
     *
     * @param maxConnections admin connections open at once
     * @param requestTimeout how long a connection has to deliver a whole request
     * @param maxRequestLine bytes in the request line ({@code GET /rules?chain=... HTTP/1.1})
     * @param maxHeaderBytes bytes in all the header lines together
     * @param maxBodyBytes   bytes of body (no endpoint uses one; it is read and discarded)
     * @param healthBound    how long {@code /healthz} waits for every event loop to run its task
     */
    record Limits(int maxConnections, Duration requestTimeout, int maxRequestLine, int maxHeaderBytes,
                  int maxBodyBytes, Duration healthBound) {
        static final Limits DEFAULT = new Limits(io.nthlb.proxy.Limits.ADMIN_CONNECTIONS, Duration.ofSeconds(5), 4096, 8192, 64 * 1024,
                Duration.ofMillis(500));
    }

    /** What {@code /healthz} asks of the data plane: one future per event loop, done once it ran a task. */
    @FunctionalInterface
    public interface EventLoopProbe {
        List<? extends CompletionStage<?>> probe();
    }

    private static final Logger log = LoggerFactory.getLogger(AdminServer.class);
    private static final String TEXT = "text/plain; charset=utf-8";
    private static final String GET_OR_HEAD = "GET, HEAD";
    private static final String ENDPOINTS = "/rules, /save, /backends, /metrics, /healthz, /reload";

    private final Limits limits;
    private final TableListing table;
    private final ReloadAction reload;
    private final PrometheusRegistry registry;
    private final EventLoopProbe dataPlane;
    private final ExpositionFormats formats = ExpositionFormats.init();
    private final EventLoopGroup loop;
    private final ExecutorService worker;
    private Channel listener;

    // Touched on the admin event loop only (it has one thread).
    private final Set<Channel> open = new LinkedHashSet<>();
    /**
     * The connections nothing is being done for (a whole request has not arrived yet, or the answer has been
     * written and the connection is closing), the longest waiting first: the ones to close to make room.
     */
    private final Set<Channel> waiting = new LinkedHashSet<>();

    private AdminServer(Limits limits, TableListing table, ReloadAction reload, PrometheusRegistry registry,
                        EventLoopProbe dataPlane) {
        this.limits = limits;
        this.table = table;
        this.reload = reload;
        this.registry = registry;
        this.dataPlane = dataPlane;
        this.loop = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("nthlb-admin", true),
                NioIoHandler.newFactory());
        this.worker = Executors.newSingleThreadExecutor(runnable -> {
            Thread thread = new Thread(runnable, "nthlb-admin-work");
            thread.setDaemon(true);
            return thread;
        });
    }

    /**
     * Binds and starts serving.
     *
     * @param allowRemote whether a non-loopback address may be bound; the admin endpoint has no
     *                    authentication, so listening beyond loopback has to be asked for explicitly
     * @param dataPlane   what {@code /healthz} probes
     * @throws IllegalArgumentException for a non-loopback address without {@code allowRemote}
     * @throws IOException              when the address cannot be bound; the message says what to do
     */
    public static AdminServer start(AdminAddress address, boolean allowRemote, TableListing table,
                                    ReloadAction reload, PrometheusRegistry registry, EventLoopProbe dataPlane)
            throws IOException {
        return start(address, allowRemote, table, reload, registry, dataPlane, Limits.DEFAULT);
    }

    static AdminServer start(AdminAddress address, boolean allowRemote, TableListing table, ReloadAction reload,
                             PrometheusRegistry registry, EventLoopProbe dataPlane, Limits limits)
            throws IOException {
        address.requireListenable(allowRemote);
        AdminServer admin = new AdminServer(limits, table, reload, registry, dataPlane);
        ChannelFuture bind = new ServerBootstrap()
                .group(admin.loop)
                .channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        admin.accept(ch);
                    }
                })
                .bind(address.socketAddress())
                .awaitUninterruptibly();
        if (!bind.isSuccess()) {
            admin.close();
            throw new IOException("cannot listen on " + address + " for the admin endpoint: "
                    + bind.cause().getMessage()
                    + " (choose another with --admin HOST:PORT, or turn it off with --admin off)", bind.cause());
        }
        admin.listener = bind.channel();
        log.info("admin endpoint listening on http://{}/", admin.address());
        return admin;
    }

    /** The bound address (with the actual port when started on port 0). */
    public AdminAddress address() {
        return new AdminAddress((InetSocketAddress) listener.localAddress());
    }

    /** Stops accepting and releases the port; a request still in progress is cut off. */
    @Override
    public void close() {
        if (listener != null) {
            listener.close().awaitUninterruptibly();
        }
        loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        worker.shutdown();
        try {
            worker.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Sets up a new connection, making room for it first when the endpoint is full. */
    private void accept(SocketChannel ch) {
        open.add(ch);
        ch.closeFuture().addListener(closed -> {
            open.remove(ch);
            waiting.remove(ch);
        });
        if (open.size() > limits.maxConnections()) {
            Iterator<Channel> longestWaiting = waiting.iterator();
            Channel victim = longestWaiting.hasNext() ? longestWaiting.next() : ch;
            open.remove(victim);
            waiting.remove(victim);
            victim.close();
            if (victim == ch) {
                return; // every connection is being answered; this one has to wait its turn elsewhere
            }
        }
        Exchange exchange = new Exchange();
        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                exchange.bytesArrived = true;
                ctx.fireChannelRead(msg);
            }
        });
        ch.pipeline().addLast(new HttpServerCodec(new HttpDecoderConfig()
                .setMaxInitialLineLength(limits.maxRequestLine())
                .setMaxHeaderSize(limits.maxHeaderBytes())));
        ch.pipeline().addLast(exchange);
    }

    /** An answer before it is written: status, body and the one optional header an answer may need. */
    private record Answer(HttpResponseStatus status, String contentType, byte[] body, String allow) {
        static Answer text(HttpResponseStatus status, String body) {
            return new Answer(status, TEXT, body.getBytes(StandardCharsets.UTF_8), null);
        }
    }

    /**
     * One connection, one request at a time: read it whole, stop reading while it is answered, then read the
     * next; so a client that pipelines requests cannot queue up work.
     */
    private final class Exchange extends ChannelInboundHandlerAdapter {
        private enum State { WAITING, ANSWERING, CLOSING }

        private State state;
        /** Requests the decoder had already taken from the last read when reading stopped, in order. */
        private final ArrayDeque<Object> pipelined = new ArrayDeque<>();
        boolean bytesArrived;
        private HttpRequest request;
        private long bodyBytes;
        private ScheduledFuture<?> deadline;

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            awaitRequest(ctx);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            cancelDeadline();
            pipelined.forEach(ReferenceCountUtil::release);
            pipelined.clear();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // A client that resets or vanishes; nothing to tell anyone.
            log.debug("admin connection {}: {}", ctx.channel().remoteAddress(), cause.toString());
            ctx.close();
        }

        private void awaitRequest(ChannelHandlerContext ctx) {
            state = State.WAITING;
            request = null;
            bytesArrived = false;
            waiting.add(ctx.channel());
            deadline = ctx.executor().schedule(() -> timedOut(ctx),
                    limits.requestTimeout().toNanos(), TimeUnit.NANOSECONDS);
            while (state == State.WAITING && !pipelined.isEmpty()) {
                Object msg = pipelined.poll();
                try {
                    take(ctx, msg);
                } finally {
                    ReferenceCountUtil.release(msg);
                }
            }
            ctx.channel().config().setAutoRead(true);
        }

        private void timedOut(ChannelHandlerContext ctx) {
            if (state != State.WAITING) {
                return;
            }
            if (request == null && !bytesArrived) {
                ctx.close(); // an idle connection: closing it says all there is to say
            } else {
                refuse(ctx, HttpResponseStatus.REQUEST_TIMEOUT, "the request did not arrive within "
                        + limits.requestTimeout().toMillis() + " ms\n");
            }
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (state == State.ANSWERING) {
                pipelined.add(msg);
                return;
            }
            try {
                if (state == State.WAITING) {
                    take(ctx, msg);
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        private void take(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof HttpObject part && part.decoderResult().isFailure()) {
                Throwable cause = part.decoderResult().cause();
                if (cause instanceof TooLongHttpLineException) {
                    refuse(ctx, HttpResponseStatus.REQUEST_URI_TOO_LONG, "the request line is longer than "
                            + limits.maxRequestLine() + " bytes\n");
                } else if (cause instanceof TooLongHttpHeaderException) {
                    refuse(ctx, HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "the headers are longer than "
                            + limits.maxHeaderBytes() + " bytes\n");
                } else {
                    refuse(ctx, HttpResponseStatus.BAD_REQUEST, "malformed request: " + cause.getMessage() + "\n");
                }
                return;
            }
            if (msg instanceof HttpRequest head) {
                request = head;
                bodyBytes = 0;
                if (HttpUtil.getContentLength(head, -1L) > limits.maxBodyBytes()) {
                    // Refused on the declared length, before any of the body is read.
                    refuse(ctx, HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, tooLarge());
                    return;
                }
                if (HttpUtil.is100ContinueExpected(head)) {
                    ctx.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE));
                }
            }
            if (msg instanceof HttpContent content && request != null) {
                bodyBytes += content.content().readableBytes();
                if (bodyBytes > limits.maxBodyBytes()) {
                    refuse(ctx, HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, tooLarge());
                    return;
                }
                if (msg instanceof LastHttpContent) {
                    answer(ctx);
                }
            }
        }

        private String tooLarge() {
            return "the request body is larger than " + limits.maxBodyBytes() + " bytes (no endpoint takes one)\n";
        }

        /** The whole request is in: stop the clock and answer it. */
        private void answer(ChannelHandlerContext ctx) {
            state = State.ANSWERING;
            ctx.channel().config().setAutoRead(false);
            waiting.remove(ctx.channel());
            cancelDeadline();
            HttpRequest asked = request;
            CompletableFuture<Answer> answer;
            try {
                answer = route(asked, ((InetSocketAddress) ctx.channel().localAddress()).getAddress());
            } catch (RuntimeException e) {
                answer = CompletableFuture.failedFuture(e);
            }
            answer.whenComplete((done, failure) -> ctx.executor().execute(() -> {
                Answer written = done;
                if (failure != null) {
                    written = failed(asked, failure);
                }
                write(ctx, asked, written, HttpUtil.isKeepAlive(asked));
            }));
        }

        /** Answers and closes: the request is not one to go on from. */
        private void refuse(ChannelHandlerContext ctx, HttpResponseStatus status, String why) {
            state = State.CLOSING;
            waiting.remove(ctx.channel());
            cancelDeadline();
            write(ctx, request, Answer.text(status, why), false);
        }

        private void write(ChannelHandlerContext ctx, HttpRequest asked, Answer answer, boolean keepAlive) {
            boolean head = asked != null && asked.method().equals(HttpMethod.HEAD);
            FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, answer.status(),
                    head ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(answer.body()));
            response.headers().set(HttpHeaderNames.CONTENT_TYPE, answer.contentType());
            response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, answer.body().length);
            if (answer.allow() != null) {
                response.headers().set(HttpHeaderNames.ALLOW, answer.allow());
            }
            if (!keepAlive) {
                response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            }
            ctx.writeAndFlush(response).addListener(written -> {
                if (!written.isSuccess()) {
                    ctx.close();
                } else if (keepAlive) {
                    awaitRequest(ctx);
                } else {
                    lingerAndClose(ctx);
                }
            });
        }

        /**
         * Half-closes and reads what the client still sends, for a while, before closing: closing a socket with
         * unread bytes in it resets the connection, and the reset can reach the client before the answer does.
         */
        private void lingerAndClose(ChannelHandlerContext ctx) {
            state = State.CLOSING;
            waiting.add(ctx.channel());
            ctx.channel().config().setAutoRead(true);
            ((SocketChannel) ctx.channel()).shutdownOutput();
            deadline = ctx.executor().schedule(() -> {
                ctx.close();
            }, limits.requestTimeout().toNanos(), TimeUnit.NANOSECONDS);
        }

        private void cancelDeadline() {
            if (deadline != null) {
                deadline.cancel(false);
                deadline = null;
            }
        }
    }

    private Answer failed(HttpRequest request, Throwable failure) {
        Throwable cause = failure instanceof java.util.concurrent.CompletionException && failure.getCause() != null
                ? failure.getCause() : failure;
        if (cause instanceof RejectedExecutionException) {
            return Answer.text(HttpResponseStatus.SERVICE_UNAVAILABLE, "nthlb is shutting down\n");
        }
        // A bug, not a user's doing: log it with its trace, and answer rather than drop the connection.
        log.error("admin request {} {} failed", request.method(), request.uri(), cause);
        return Answer.text(HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal error: " + cause + "\n");
    }

    /**
     * Works out the answer; runs on the admin event loop, so anything that takes time goes to the worker.
     *
     * @param local the address the client connected to
     */
    private CompletableFuture<Answer> route(HttpRequest request, InetAddress local) {
        Target target;
        Map<String, String> query;
        try {
            target = Target.parse(request.uri());
            query = query(target.rawQuery());
        } catch (IllegalArgumentException e) {
            return done(Answer.text(HttpResponseStatus.BAD_REQUEST, "malformed request target \""
                    + request.uri() + "\": " + e.getMessage() + "\n"));
        }
        String host = target.authority() != null ? target.authority() : request.headers().get(HttpHeaderNames.HOST);
        if (host == null ? request.protocolVersion().equals(HttpVersion.HTTP_1_1) : !isThisEndpoint(host, local)) {
            return done(Answer.text(HttpResponseStatus.FORBIDDEN, "Host " + (host == null ? "missing" : "\"" + host
                    + "\" is not this endpoint") + " (expected: a loopback address, localhost or "
                    + local.getHostAddress() + ", with any port)\n"));
        }
        String path = target.path();
        switch (path) {
            case "/healthz" -> {
                return readOnly(request, path, this::health);
            }
            case "/rules" -> {
                return readOnly(request, path, () -> work(() -> rules(query)));
            }
            case "/save" -> {
                return readOnly(request, path,
                        () -> work(() -> Answer.text(HttpResponseStatus.OK, table.save(query.containsKey("c")))));
            }
            case "/backends" -> {
                return readOnly(request, path, () -> work(() -> Answer.text(HttpResponseStatus.OK, table.backends())));
            }
            case "/metrics" -> {
                String accept = request.headers().get(HttpHeaderNames.ACCEPT);
                return readOnly(request, path, () -> work(() -> metrics(accept)));
            }
            case "/reload" -> {
                if (!request.method().equals(HttpMethod.POST)) {
                    return done(new Answer(HttpResponseStatus.METHOD_NOT_ALLOWED, TEXT,
                            (path + " takes POST\n").getBytes(StandardCharsets.UTF_8), "POST"));
                }
                if (!request.headers().contains(RELOAD_HEADER)) {
                    return done(Answer.text(HttpResponseStatus.FORBIDDEN, "POST /reload needs the header "
                            + RELOAD_HEADER + ": 1 (nthlb reload sends it; a web page cannot, cross-site)\n"));
                }
                return work(() -> {
                    ReloadOutcome outcome = reload.reload();
                    return Answer.text(HttpResponseStatus.valueOf(outcome.status().httpStatus()), outcome.text());
                });
            }
            default -> {
                return done(Answer.text(HttpResponseStatus.NOT_FOUND,
                        "no such endpoint: " + path + " (expected: " + ENDPOINTS + ")\n"));
            }
        }
    }

    private static CompletableFuture<Answer> readOnly(HttpRequest request, String path,
                                                      Supplier<CompletableFuture<Answer>> answer) {
        if (request.method().equals(HttpMethod.GET) || request.method().equals(HttpMethod.HEAD)) {
            return answer.get();
        }
        return done(new Answer(HttpResponseStatus.METHOD_NOT_ALLOWED, TEXT,
                (path + " takes GET or HEAD\n").getBytes(StandardCharsets.UTF_8), GET_OR_HEAD));
    }

    private CompletableFuture<Answer> work(Supplier<Answer> task) {
        return CompletableFuture.supplyAsync(task, worker);
    }

    private static CompletableFuture<Answer> done(Answer answer) {
        return CompletableFuture.completedFuture(answer);
    }

    /** Ok once every event loop has run its probe; 503 when one has not within the bound. */
    private CompletableFuture<Answer> health() {
        List<CompletableFuture<?>> ran;
        try {
            ran = dataPlane.probe().stream().<CompletableFuture<?>>map(CompletionStage::toCompletableFuture).toList();
        } catch (RejectedExecutionException e) {
            return done(Answer.text(HttpResponseStatus.SERVICE_UNAVAILABLE, "the data plane is shutting down\n"));
        }
        CompletableFuture<Answer> answer = new CompletableFuture<>();
        CompletableFuture.allOf(ran.toArray(CompletableFuture[]::new)).whenComplete((all, failure) ->
                answer.complete(failure == null ? Answer.text(HttpResponseStatus.OK, "ok\n")
                        : Answer.text(HttpResponseStatus.SERVICE_UNAVAILABLE, "the data plane is shutting down\n")));
        ScheduledFuture<?> bound = loop.next().schedule(() -> {
            long stuck = ran.stream().filter(probe -> !probe.isDone()).count();
            answer.complete(Answer.text(HttpResponseStatus.SERVICE_UNAVAILABLE, stuck + " of " + ran.size()
                    + " event loops did not run a task within " + limits.healthBound().toMillis()
                    + " ms: the data plane is stuck\n"));
        }, limits.healthBound().toNanos(), TimeUnit.NANOSECONDS);
        answer.whenComplete((written, failure) -> bound.cancel(false));
        return answer;
    }

    private Answer rules(Map<String, String> query) {
        String chain = query.get("chain");
        try {
            return Answer.text(HttpResponseStatus.OK, table.list(chain == null || chain.isEmpty() ? null : chain,
                    query.containsKey("x")));
        } catch (NoSuchChainException e) {
            return Answer.text(HttpResponseStatus.NOT_FOUND, NoSuchChainException.MESSAGE + "\n");
        }
    }

    private Answer metrics(String accept) {
        ExpositionFormatWriter writer = formats.findWriter(accept);
        ByteArrayOutputStream body = new ByteArrayOutputStream(16 * 1024);
        try {
            writer.write(body, registry.scrape());
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a ByteArrayOutputStream does not fail
        }
        return new Answer(HttpResponseStatus.OK, writer.getContentType(), body.toByteArray(), null);
    }

    /**
     * Whether a Host (or an absolute request target's authority) names this endpoint: a loopback address,
     * {@code localhost}, or the address the client connected to, as an IP address. A web page that reaches the
     * endpoint through DNS rebinding sends its own name, and is refused.
     */
    private static boolean isThisEndpoint(String authority, InetAddress local) {
        boolean hasPort = !authority.endsWith("]") && authority.indexOf(':') >= 0;
        InetAddress named;
        try {
            named = AdminAddress.parse(hasPort ? authority : authority + ":0").socketAddress().getAddress();
        } catch (IllegalArgumentException e) {
            return false;
        }
        return named.isLoopbackAddress() || named.equals(local);
    }

    /** A request target split into its parts; {@code authority} only for the absolute form. */
    private record Target(String authority, String path, String rawQuery) {
        static Target parse(String uri) {
            if (uri.startsWith("/")) {
                int q = uri.indexOf('?');
                return q < 0 ? new Target(null, uri, null)
                        : new Target(null, uri.substring(0, q), uri.substring(q + 1));
            }
            URI absolute = URI.create(uri);
            if (!"http".equalsIgnoreCase(absolute.getScheme()) || absolute.getRawAuthority() == null) {
                throw new IllegalArgumentException("expected a path, or an http:// URL");
            }
            String path = absolute.getRawPath();
            return new Target(absolute.getRawAuthority(), path == null || path.isEmpty() ? "/" : path,
                    absolute.getRawQuery());
        }
    }

    /**
     * {@code a&b=c} as {@code {a: "", b: "c"}}: a bare key is a flag, as in {@code /rules?x}.
     *
     * @throws IllegalArgumentException for a malformed %-escape, such as {@code %zz}
     */
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
