package io.nthlb.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import io.netty.buffer.PooledByteBufAllocator;
import io.nthlb.testing.Eventually;
import io.nthlb.testing.LoopbackBackend;
import io.nthlb.testing.NeverAnswering;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.LoggerFactory;

/**
 * The relay's behaviour on real loopback sockets, run once per transport by the subclasses (as Netty's
 * testsuite runs {@code SocketHalfClosedTest}). Backends are plain blocking sockets, so what a test asserts
 * is what a real peer sees.
 */
abstract class RelayTestSuite {

    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    /** The transport this run uses. */
    abstract Transport transport();

    private final List<AutoCloseable> closeAfter = new ArrayList<>();
    private final RecordingObserver observer = new RecordingObserver();
    private ProxyServer proxy;
    private InetSocketAddress vip;

    @BeforeEach
    void startProxy() {
        startProxy(ProxyOptions.defaults(transport()).withThreads(2));
    }

    private void startProxy(ProxyOptions options) {
        if (proxy != null) {
            proxy.close();
        }
        proxy = ProxyServer.start(options, (client, local) -> Route.none("-"), observer);
        vip = proxy.listen(List.of(new InetSocketAddress(LOOPBACK, 0))).get(0);
    }

    @AfterEach
    void stop() throws Exception {
        proxy.close();
        for (AutoCloseable c : closeAfter) {
            c.close();
        }
    }

    private LoopbackBackend backend(LoopbackBackend backend) {
        closeAfter.add(backend);
        proxy.setRouter((client, local) -> Route.to(backend.address(), "TEST:1"));
        return backend;
    }

    private Socket connect() throws IOException {
        Socket s = new Socket(LOOPBACK, vip.getPort());
        s.setSoTimeout(Integer.getInteger("test.soTimeout", 30_000));
        return s;
    }

    /**
     * Connects to the VIP, sending nothing, and asserts the connection is reset; returns the client's port. The
     * proxy may reset it before this thread returns from connect(2), which then fails with the reset itself.
     */
    private int connectAndAssertReset() throws IOException {
        try (Socket s = new Socket()) {
            s.bind(new InetSocketAddress(LOOPBACK, 0));
            int port = s.getLocalPort();
            s.setSoTimeout(Integer.getInteger("test.soTimeout", 30_000));
            try {
                s.connect(vip);
            } catch (SocketException resetWhileConnecting) {
                assertThat(resetWhileConnecting).hasMessageContaining("Connection reset");
                return port;
            }
            assertReset(s);
            return port;
        }
    }

    /** Proves the proxy still serves: one echo round trip through a fresh backend. */
    private void assertStillServes() throws Exception {
        backend(LoopbackBackend.echo());
        byte[] payload = "still here".getBytes(StandardCharsets.US_ASCII);
        try (Socket s = connect()) {
            s.getOutputStream().write(payload);
            s.shutdownOutput();
            assertThat(s.getInputStream().readAllBytes()).isEqualTo(payload);
        }
        assertThat(observer.nextEnded().ending()).isEqualTo(Ending.CLOSED);
    }

    @Test
    void halfCloseFromClientReachesBackendAndTheResponseStillFlows() throws Exception {
        // The backend answers only after it has read the client's FIN: the other direction must go on.
        byte[] response = "response after your FIN".getBytes(StandardCharsets.US_ASCII);
        backend(new LoopbackBackend(s -> {
            byte[] request = s.getInputStream().readAllBytes();
            s.getOutputStream().write(request);
            s.getOutputStream().write(response);
            s.shutdownOutput();
        }));
        try (Socket s = connect()) {
            s.getOutputStream().write("request".getBytes(StandardCharsets.US_ASCII));
            s.shutdownOutput();
            assertThat(new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII))
                    .isEqualTo("request" + "response after your FIN");
        }
        Connection c = observer.nextEnded();
        assertThat(c.ending()).isEqualTo(Ending.CLOSED);
        assertThat(c.bytesFromClient()).isEqualTo(7);
        assertThat(c.bytesFromBackend()).isEqualTo(7 + response.length);
        assertThat(c.route().label()).isEqualTo("TEST:1");
    }

    @Test
    void halfCloseFromBackendReachesClientWhileClientKeepsSending() throws Exception {
        // The backend says hello and shuts its output at once, then reads everything the client sends.
        CompletableFuture<byte[]> received = new CompletableFuture<>();
        backend(new LoopbackBackend(s -> {
            s.getOutputStream().write("hello".getBytes(StandardCharsets.US_ASCII));
            s.shutdownOutput();
            received.complete(s.getInputStream().readAllBytes());
        }));
        try (Socket s = connect()) {
            InputStream in = s.getInputStream();
            assertThat(in.readAllBytes()).asString(StandardCharsets.US_ASCII).isEqualTo("hello");
            s.getOutputStream().write("still talking".getBytes(StandardCharsets.US_ASCII));
            s.shutdownOutput();
            assertThat(received.get(30, TimeUnit.SECONDS)).asString(StandardCharsets.US_ASCII).isEqualTo("still talking");
        }
        assertThat(observer.nextEnded().ending()).isEqualTo(Ending.CLOSED);
    }

    @Test
    void twoHundredConcurrentClientsGetEveryByteBackIntact() throws Exception {
        backend(LoopbackBackend.echo());
        int clients = 200;
        ExecutorService pool = Executors.newFixedThreadPool(2 * clients);
        try {
            Random random = new Random(42);
            List<CompletableFuture<Void>> done = new ArrayList<>();
            long total = 0;
            for (int i = 0; i < clients; i++) {
                // Mostly small, some of several MB: log-uniform from 0 to 4 MiB, plus a few empty ones.
                int size = i % 50 == 0 ? 0 : (int) Math.pow(2, random.nextDouble() * 22);
                total += size;
                byte[] payload = new byte[size];
                random.nextBytes(payload);
                done.add(CompletableFuture.runAsync(() -> echoThrough(payload, pool), pool));
            }
            CompletableFuture.allOf(done.toArray(CompletableFuture[]::new)).get(120, TimeUnit.SECONDS);
            long relayed = 0;
            for (int i = 0; i < clients; i++) {
                Connection c = observer.nextEnded();
                assertThat(c.ending()).isEqualTo(Ending.CLOSED);
                assertThat(c.bytesFromBackend()).isEqualTo(c.bytesFromClient());
                relayed += c.bytesFromClient();
            }
            assertThat(relayed).isEqualTo(total);
        } finally {
            pool.shutdownNow();
        }
    }

    private void echoThrough(byte[] payload, ExecutorService pool) {
        try (Socket s = connect()) {
            CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                try {
                    OutputStream out = s.getOutputStream();
                    out.write(payload);
                    s.shutdownOutput();
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            }, pool);
            byte[] back = s.getInputStream().readAllBytes();
            writer.get(60, TimeUnit.SECONDS);
            assertThat(back.length).isEqualTo(payload.length);
            assertThat(sha256(back)).isEqualTo(sha256(payload));
        } catch (Exception e) {
            throw new RuntimeException(e);
        }
    }

    @Test
    void slowReaderPausesTheBackendAndKeepsMemoryBounded() throws Exception {
        PooledByteBufAllocator allocator = new PooledByteBufAllocator(true);
        // One event loop, so the probe connections below are served by the loop that serves the slow one.
        startProxy(ProxyOptions.defaults(transport()).withThreads(1).withAllocator(allocator));
        long total = 256L << 20;
        FloodingBackend flood = new FloodingBackend(total);
        closeAfter.add(flood);
        LoopbackBackend echo = LoopbackBackend.echo();
        closeAfter.add(echo);
        proxy.setRouter((client, local) -> Route.to(flood.address(), "TEST:1"));
        try (Socket s = new Socket()) {
            // A small receive buffer, so the kernel holds little on the client's behalf.
            s.setReceiveBufferSize(64 * 1024);
            s.connect(vip);
            s.setSoTimeout(Integer.getInteger("test.soTimeout", 30_000));
            Connection slow = observer.connecting.poll(30, TimeUnit.SECONDS);
            assertThat(slow).as("connect started").isNotNull();
            proxy.setRouter((client, local) -> Route.to(echo.address(), "TEST:probe"));
            assertThat(observer.pauses.poll(30, TimeUnit.SECONDS)).isEqualTo(Direction.BACKEND_TO_CLIENT);

            long heldBackAt = awaitHeldBack(flood, slow);
            assertThat(flood.finished()).as("backend blocked on write").isFalse();
            assertThat(heldBackAt).isLessThan(total / 2);
            long used = allocator.metric().usedDirectMemory();
            assertThat(used).as("nthlb's direct memory while the client reads nothing").isLessThanOrEqualTo(16L << 20);

            long got = 0;
            byte[] buf = new byte[256 * 1024];
            InputStream in = s.getInputStream();
            for (int n; (n = in.read(buf)) >= 0; ) {
                got += n;
            }
            assertThat(got).isEqualTo(total);
        }
        assertThat(observer.nextEnded().ending()).isEqualTo(Ending.CLOSED);
        assertThat(observer.pausedBackendToClient.get()).isGreaterThan(0);
    }

    /**
     * Waits until nthlb holds the backend back: the backend found its socket full and waits for it to drain,
     * and nthlb read nothing more from it while its event loop (the only one) served a whole probe connection
     * (accept, connect, a byte each way, both FINs). The loop was free to read the backend's waiting bytes and
     * did not; a relay that kept reading would have read them in those rounds. Until the client's receive
     * window closes nthlb may resume for a moment and read a little more; then the check is made again.
     * Returns the bytes the backend had written by then.
     */
    private long awaitHeldBack(FloodingBackend flood, Connection slow) throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        for (int probes = 0; ; probes++) {
            long wait = flood.awaitStuck(30, TimeUnit.SECONDS);
            long read = bytesFromBackendOnItsLoop(slow);
            probe();
            if (flood.stillStuckIn(wait) && bytesFromBackendOnItsLoop(slow) == read) {
                return flood.written();
            }
            assertThat(System.nanoTime()).as("nthlb still reads the backend after %d probes", probes).isLessThan(end);
        }
    }

    /** What nthlb has read from the backend so far, read on the connection's own event loop. */
    private static long bytesFromBackendOnItsLoop(Connection c) throws Exception {
        return ((RelayBase) c).loop.submit(c::bytesFromBackend).get(30, TimeUnit.SECONDS);
    }

    /** One byte each way and both FINs through the proxy (routed to an echo backend); waits for it to end. */
    private void probe() throws Exception {
        try (Socket p = connect()) {
            p.getOutputStream().write(42);
            assertThat(p.getInputStream().read()).isEqualTo(42);
            p.shutdownOutput();
            assertThat(p.getInputStream().read()).isEqualTo(-1);
        }
        assertThat(observer.nextEnded().ending()).isEqualTo(Ending.CLOSED);
    }

    @Test
    void refusedBackendResetsTheClient() throws Exception {
        InetSocketAddress refused = refusingAddress();
        proxy.setRouter((client, local) -> Route.to(refused, "TEST:2"));
        connectAndAssertReset();
        assertThat(observer.nextEnded().ending()).isEqualTo(Ending.REFUSED);
        assertStillServes();
    }

    /**
     * A backend that never accepts: the client is reset when the connect timeout runs out, and what it sent
     * meanwhile was never read (nothing is read from a client before its backend has accepted).
     */
    @Test
    void backendThatNeverAnswersTimesOutAndResetsTheClient() throws Exception {
        startProxy(ProxyOptions.defaults(transport()).withThreads(2).withConnectTimeout(Duration.ofMillis(500)));
        InetSocketAddress full = neverAnswering();
        proxy.setRouter((client, local) -> Route.to(full, "TEST:3"));
        try (Socket s = connect()) {
            assertThat(observer.connecting.poll(30, TimeUnit.SECONDS)).as("connect started").isNotNull();
            s.getOutputStream().write("sent while the backend is still connecting".getBytes(StandardCharsets.US_ASCII));
            assertReset(s);
        }
        Connection c = observer.nextEnded();
        assertThat(c.ending()).isEqualTo(Ending.TIMEOUT);
        assertThat(c.bytesFromClient()).as("bytes read from the client before the backend accepted").isZero();
        assertThat(c.bytesFromBackend()).isZero();
        assertStillServes();
    }

    /** A route to {@code first} whose retries go through {@code next}, one backend per retry, then none. */
    static Route retrying(List<Ending> failures, InetSocketAddress... backends) {
        return retrying(failures, 0, backends);
    }

    private static Route retrying(List<Ending> failures, int at, InetSocketAddress... backends) {
        return new Route() {
            @Override
            public InetSocketAddress backend() {
                return backends[at];
            }

            @Override
            public String label() {
                return "TEST:" + (at + 1);
            }

            @Override
            public Route retry(Ending failure) {
                failures.add(failure);
                return at + 1 < backends.length ? retrying(failures, at + 1, backends) : null;
            }
        };
    }

    /** Sends {@code text} and FIN through {@code s} and asserts the echo backend behind it sends back exactly that. */
    private static void assertEchoed(Socket s, String text) throws IOException {
        byte[] payload = text.getBytes(StandardCharsets.US_ASCII);
        s.getOutputStream().write(payload);
        s.shutdownOutput();
        assertThat(s.getInputStream().readAllBytes()).isEqualTo(payload);
    }

    /** An address on loopback that nothing listens on: connecting to it is refused. */
    static InetSocketAddress refusingAddress() throws IOException {
        try (ServerSocket probe = new ServerSocket(0, 1, LOOPBACK)) {
            return (InetSocketAddress) probe.getLocalSocketAddress();
        }
    }

    @Test
    void refusedBackendIsRetriedAtTheRouteItGivesAndTheClientSeesNothingOfIt() throws Exception {
        LoopbackBackend echo = LoopbackBackend.echo();
        closeAfter.add(echo);
        InetSocketAddress refused = refusingAddress();
        List<Ending> failures = new CopyOnWriteArrayList<>();
        proxy.setRouter((client, local) -> retrying(failures, refused, echo.address()));
        Connection retried;
        try (Socket s = connect()) {
            // Sent once the retry is under way, as below: io_uring may read early what a client sends at once.
            retried = observer.rerouted.poll(30, TimeUnit.SECONDS);
            assertThat(retried).as("retried").isNotNull();
            assertEchoed(s, "after one retry");
        }
        Connection c = observer.nextEnded();
        assertThat(c.ending()).isEqualTo(Ending.CLOSED);
        assertThat(c.retries()).isEqualTo(1);
        assertThat(c.route().backend()).isEqualTo(echo.address());
        assertThat(failures).containsExactly(Ending.REFUSED);
        assertThat(observer.connectFailures).containsExactly(Ending.REFUSED);
        assertThat(retried).isSameAs(c);
        assertThat(observer.rerouted).as("one retry").isEmpty();
    }

    @Test
    void clientIsResetWithTheLastFailureWhenTheRouteHasNoMoreBackends() throws Exception {
        InetSocketAddress refused = refusingAddress();
        List<Ending> failures = new CopyOnWriteArrayList<>();
        proxy.setRouter((client, local) -> retrying(failures, refused, refused));
        connectAndAssertReset();
        Connection c = observer.nextEnded();
        assertThat(c.ending()).isEqualTo(Ending.REFUSED);
        assertThat(c.retries()).isEqualTo(1);
        assertThat(failures).containsExactly(Ending.REFUSED, Ending.REFUSED);
        assertStillServes();
    }

    /** A backend that never answers costs one connect timeout, then the retry's backend serves the client. */
    @Test
    void backendThatNeverAnswersIsRetriedAfterTheConnectTimeout() throws Exception {
        startProxy(ProxyOptions.defaults(transport()).withThreads(2).withConnectTimeout(Duration.ofMillis(300)));
        InetSocketAddress full = neverAnswering();
        LoopbackBackend echo = LoopbackBackend.echo();
        closeAfter.add(echo);
        List<Ending> failures = new CopyOnWriteArrayList<>();
        proxy.setRouter((client, local) -> retrying(failures, full, echo.address()));
        try (Socket s = connect()) {
            // Sent once the retry is under way: io_uring reads a client's bytes and FIN while the first backend is
            // still connecting, and bytes already read cannot be sent to another backend, so that would not retry.
            assertThat(observer.rerouted.poll(30, TimeUnit.SECONDS)).as("retried").isNotNull();
            assertEchoed(s, "after a timeout");
        }
        Connection c = observer.nextEnded();
        assertThat(c.ending()).isEqualTo(Ending.CLOSED);
        assertThat(c.retries()).isEqualTo(1);
        assertThat(failures).containsExactly(Ending.TIMEOUT);
    }

    @Test
    void bytesAndFinSentWhileTheBackendIsStillConnectingReachItOnceItAnswers() throws Exception {
        assertHeldWhileConnecting("sent early");
    }

    @Test
    void finWithoutBytesWhileTheBackendIsStillConnectingReachesItOnceItAnswers() throws Exception {
        assertHeldWhileConnecting("");
    }

    /**
     * The client sends {@code early} and FIN while the proxy's SYN to the backend sits unanswered (a full accept
     * queue drops it); once the queue is freed, the SYN's retransmission gets through about a second later, and the
     * backend must then read exactly {@code early} and the FIN, and its answer must still reach the client.
     */
    private void assertHeldWhileConnecting(String early) throws Exception {
        ServerSocket slow = new ServerSocket(0, 1, LOOPBACK);
        closeAfter.add(slow);
        List<Socket> fillers = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            Socket f = new Socket();
            closeAfter.add(f);
            fillers.add(f);
            try {
                f.connect(slow.getLocalSocketAddress(), 200);
            } catch (IOException e) {
                break; // the queue is full; this one's SYN keeps being retried, and gets in once it is freed
            }
        }
        proxy.setRouter((client, local) -> Route.to((InetSocketAddress) slow.getLocalSocketAddress(), "TEST:4"));
        try (Socket s = connect()) {
            // Only once the relay has started connecting: then the bytes and the FIN come while it is under way.
            assertThat(observer.connecting.poll(30, TimeUnit.SECONDS)).as("connect started").isNotNull();
            s.getOutputStream().write(early.getBytes(StandardCharsets.US_ASCII));
            s.shutdownOutput();
            // Free the queue; the connections it lets in are the fillers' and, by its port, the proxy's.
            Set<Integer> fillerPorts = new HashSet<>();
            fillers.forEach(f -> fillerPorts.add(f.getLocalPort()));
            slow.setSoTimeout(30_000);
            Socket fromProxy;
            while (true) {
                Socket accepted = slow.accept();
                closeAfter.add(accepted);
                if (!fillerPorts.contains(accepted.getPort())) {
                    fromProxy = accepted;
                    break;
                }
            }
            assertThat(fromProxy.getInputStream().readAllBytes()).asString(StandardCharsets.US_ASCII).isEqualTo(early);
            fromProxy.getOutputStream().write("answer".getBytes(StandardCharsets.US_ASCII));
            fromProxy.close();
            assertThat(s.getInputStream().readAllBytes()).asString(StandardCharsets.US_ASCII).isEqualTo("answer");
        }
        Connection c = observer.nextEnded();
        assertThat(c.ending()).isEqualTo(Ending.CLOSED);
        assertThat(c.bytesFromClient()).isEqualTo(early.length());
    }

    /** A backend that never answers, closed after the test. */
    private InetSocketAddress neverAnswering() throws IOException {
        NeverAnswering backend = new NeverAnswering();
        closeAfter.add(backend);
        return backend.address();
    }

    /**
     * The backend sends {@code sent} bytes, reads the client's first byte and resets. With 0 its only sign of life
     * is that read: the connection was made all the same, so its reset is a reset, not a failed connect.
     */
    @ParameterizedTest(name = "backend sent {0} bytes first")
    @ValueSource(ints = {10_000, 0})
    void backendResetMidStreamResetsTheClient(int sent) throws Exception {
        backend(new LoopbackBackend(s -> {
            s.getOutputStream().write(new byte[sent]);
            s.getOutputStream().flush();
            s.getInputStream().read();
            s.setSoLinger(true, 0);
        }));
        try (Socket s = connect()) {
            s.getOutputStream().write(1);
            assertReset(s);
        }
        assertThat(observer.nextEnded().ending()).isEqualTo(Ending.BACKEND_RESET);
        assertStillServes();
    }

    @Test
    void clientResetMidStreamResetsTheBackend() throws Exception {
        CountDownLatch firstBytes = new CountDownLatch(1);
        LoopbackBackend backend = backend(new LoopbackBackend(s -> {
            InputStream in = s.getInputStream();
            in.read();
            firstBytes.countDown();
            in.readAllBytes();
        }));
        Socket s = connect();
        s.getOutputStream().write(new byte[1000]);
        assertThat(firstBytes.await(30, TimeUnit.SECONDS)).isTrue();
        s.setSoLinger(true, 0);
        s.close();
        Object outcome = backend.outcomes.poll(30, TimeUnit.SECONDS);
        assertThat(outcome).isInstanceOf(SocketException.class);
        assertThat(((Exception) outcome).getMessage()).contains("Connection reset");
        assertThat(observer.nextEnded().ending()).isEqualTo(Ending.CLIENT_RESET);
        assertStillServes();
    }

    @Test
    void connectionNoRuleSendsAnywhereIsReset() throws Exception {
        proxy.setRouter((client, local) -> Route.none("-"));
        connectAndAssertReset();
        Connection c = observer.nextEnded();
        assertThat(c.ending()).isEqualTo(Ending.NO_RULE);
        assertThat(c.route().backend()).isNull();
        assertStillServes();
    }

    @Test
    void accessLogHasOneLineWithEveryFieldPerConnection() throws Exception {
        ch.qos.logback.classic.Logger accessLogger = (ch.qos.logback.classic.Logger) LoggerFactory.getLogger("nthlb.access");
        AccessLines lines = new AccessLines();
        lines.start();
        Level level = accessLogger.getLevel();
        accessLogger.setLevel(Level.INFO);
        accessLogger.addAppender(lines);
        try {
            // closed: the backend reads the request to its end, answers with fewer bytes and closes.
            LoopbackBackend backend = backend(new LoopbackBackend(s -> {
                s.getInputStream().readAllBytes();
                s.getOutputStream().write("hi".getBytes(StandardCharsets.US_ASCII));
            }));
            long before = System.nanoTime();
            int clientPort;
            try (Socket s = connect()) {
                clientPort = s.getLocalPort();
                s.getOutputStream().write("hello, backend".getBytes(StandardCharsets.US_ASCII));
                s.shutdownOutput();
                assertThat(s.getInputStream().readAllBytes()).asString(StandardCharsets.US_ASCII).isEqualTo("hi");
            }
            Connection closed = observer.nextEnded();
            long closedUs = assertAccessLine(lines.next(), closed, "conn=" + closed.id() + " client=127.0.0.1:" + clientPort
                    + " vip=127.0.0.1:" + vip.getPort() + " rule=TEST:1 backend=127.0.0.1:" + backend.address().getPort()
                    + " from_client=14 from_backend=2 duration_us=%d end=closed retries=0");
            assertThat(closedUs).isLessThanOrEqualTo((System.nanoTime() - before) / 1000);

            // refused: no one listens on the backend's port.
            InetSocketAddress refused = refusingAddress();
            proxy.setRouter((client, local) -> Route.to(refused, "TEST:2"));
            clientPort = connectAndAssertReset();
            Connection c = observer.nextEnded();
            assertAccessLine(lines.next(), c, "conn=" + c.id() + " client=127.0.0.1:" + clientPort + " vip=127.0.0.1:"
                    + vip.getPort() + " rule=TEST:2 backend=127.0.0.1:" + refused.getPort()
                    + " from_client=0 from_backend=0 duration_us=%d end=refused retries=0");
            assertThat(c.id()).isGreaterThan(closed.id());

            // no rule: the chain's policy decided; its label has spaces, so it is quoted, and there is no backend.
            proxy.setRouter((client, local) -> Route.none("PREROUTING policy ACCEPT"));
            clientPort = connectAndAssertReset();
            c = observer.nextEnded();
            assertAccessLine(lines.next(), c, "conn=" + c.id() + " client=127.0.0.1:" + clientPort + " vip=127.0.0.1:"
                    + vip.getPort() + " rule=\"PREROUTING policy ACCEPT\" backend=- from_client=0 from_backend=0"
                    + " duration_us=%d end=no-rule retries=0");
            assertThat(lines.events).as("one line per connection").isEmpty();
        } finally {
            accessLogger.detachAppender(lines);
            accessLogger.setLevel(level);
            lines.stop();
        }
    }

    /**
     * Asserts that {@code line} is {@code expected} with the duration in place of {@code %d}, and that the
     * duration is the connection's own, in whole microseconds; returns it.
     */
    private static long assertAccessLine(String line, Connection c, String expected) {
        Matcher m = Pattern.compile(" duration_us=(\\d+) ").matcher(line);
        assertThat(m.find()).as("duration_us in %s", line).isTrue();
        long us = Long.parseLong(m.group(1));
        assertThat(line).isEqualTo(String.format(expected, us));
        assertThat(us).isEqualTo(c.durationNanos() / 1000);
        return us;
    }

    /**
     * The access log's lines, as they are written. (Not Logback's ListAppender: its list is not safe to read
     * from the test's thread, and a line is written just after the observer hears of the end, so the test
     * must wait for it.)
     */
    private static final class AccessLines extends AppenderBase<ILoggingEvent> {
        final BlockingQueue<ILoggingEvent> events = new LinkedBlockingQueue<>();

        @Override
        protected void append(ILoggingEvent event) {
            events.add(event);
        }

        /** The next line's text, waiting up to 30 s for it. */
        String next() throws InterruptedException {
            ILoggingEvent e = events.poll(30, TimeUnit.SECONDS);
            assertThat(e).as("an access-log line").isNotNull();
            assertThat(e.getLevel()).isEqualTo(Level.INFO);
            return e.getFormattedMessage();
        }
    }

    @Test
    void routerSeesTheRealClientAndLocalAddresses() throws Exception {
        LoopbackBackend backend = LoopbackBackend.echo();
        closeAfter.add(backend);
        CompletableFuture<InetSocketAddress[]> seen = new CompletableFuture<>();
        proxy.setRouter((client, local) -> {
            seen.complete(new InetSocketAddress[] {client, local});
            return Route.to(backend.address(), "TEST:4");
        });
        try (Socket s = connect()) {
            InetSocketAddress[] addresses = seen.get(30, TimeUnit.SECONDS);
            assertThat(addresses[0]).isEqualTo(s.getLocalSocketAddress());
            assertThat(addresses[1]).isEqualTo(vip);
        }
    }

    @Test
    void idleConnectionIsResetAfterTheIdleTimeout() throws Exception {
        startProxy(ProxyOptions.defaults(transport()).withThreads(2).withIdleTimeout(Duration.ofMillis(300)));
        backend(LoopbackBackend.echo());
        try (Socket s = connect()) {
            s.getOutputStream().write(7);
            assertThat(s.getInputStream().read()).isEqualTo(7);
            assertReset(s);
        }
        assertThat(observer.nextEnded().ending()).isEqualTo(Ending.IDLE_TIMEOUT);
    }

    @Test
    void drainStopsAcceptingAndLetsAnOpenTransferFinish() throws Exception {
        backend(LoopbackBackend.echo());
        try (Socket s = connect()) {
            OutputStream out = s.getOutputStream();
            InputStream in = s.getInputStream();
            out.write("first half ".getBytes(StandardCharsets.US_ASCII));
            assertThat(in.readNBytes(11)).asString(StandardCharsets.US_ASCII).isEqualTo("first half ");

            CompletableFuture<Integer> drain = CompletableFuture.supplyAsync(() -> proxy.drain(Duration.ofSeconds(30)));
            Eventually.until(() -> proxy.listeners().addresses().isEmpty(), "listeners closed");
            assertThatThrownBy(this::connect).isInstanceOf(ConnectException.class);
            assertThat(drain).isNotDone();

            out.write("second half".getBytes(StandardCharsets.US_ASCII));
            s.shutdownOutput();
            assertThat(in.readAllBytes()).asString(StandardCharsets.US_ASCII).isEqualTo("second half");
            assertThat(drain.get(30, TimeUnit.SECONDS)).as("connections reset by the drain").isZero();
        }
        assertThat(observer.nextEnded().ending()).isEqualTo(Ending.CLOSED);
    }

    @Test
    void drainTimeoutResetsConnectionsStillOpen() throws Exception {
        backend(LoopbackBackend.echo());
        try (Socket s = connect()) {
            s.getOutputStream().write(1);
            assertThat(s.getInputStream().read()).isEqualTo(1);
            assertThat(proxy.drain(Duration.ofMillis(200))).isEqualTo(1);
            assertReset(s);
        }
        assertThat(observer.nextEnded().ending()).isEqualTo(Ending.DRAIN_TIMEOUT);
    }

    @Test
    void portInUseSaysSo() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, LOOPBACK)) {
            assertThatThrownBy(() -> proxy.listeners().open((InetSocketAddress) taken.getLocalSocketAddress()))
                    .isInstanceOf(ListenException.class)
                    .hasMessageContaining("cannot listen on 127.0.0.1:" + taken.getLocalPort())
                    .hasMessageContaining("in use");
        }
        assertThat(proxy.listeners().addresses()).hasSize(1);
    }

    @Test
    void addressNotOfThisHostSaysToAddItOrUseBindAny() {
        // Only bound, never sent to: 192.0.2.0/24 is TEST-NET-1, owned by nobody.
        InetSocketAddress foreign = new InetSocketAddress("192.0.2.1", 0);
        assertThatThrownBy(() -> proxy.listeners().open(foreign))
                .isInstanceOf(ListenException.class)
                .hasMessageContaining("192.0.2.1 is not an address of this host")
                .hasMessageContaining("ip addr add 192.0.2.1/32")
                .hasMessageContaining("--bind-any");
    }

    @Test
    void bindAnyListensOnAnAddressThisHostDoesNotOwnYet() {
        Assumptions.assumeTrue(transport().freeBindOption() != null, "IP_FREEBIND needs epoll or io_uring");
        startProxy(ProxyOptions.defaults(transport()).withThreads(2).withBindAny(true));
        // Only bound, never sent to: 192.0.2.0/24 is TEST-NET-1.
        InetSocketAddress foreign = new InetSocketAddress("192.0.2.1", 0);
        proxy.listeners().open(foreign);
        assertThat(proxy.listeners().boundAddress(foreign).getAddress().getHostAddress()).isEqualTo("192.0.2.1");
    }

    @Test
    void reconcileOpensWhatIsMissingAndClosesWhatIsNoLongerWanted() throws Exception {
        InetSocketAddress first = new InetSocketAddress(LOOPBACK, 0);
        InetSocketAddress second = new InetSocketAddress("127.0.0.2", 0);
        ListenerSet listeners = proxy.listeners();
        listeners.reconcile(List.of(second));
        assertThat(listeners.addresses()).containsExactly(second);
        assertConnectRefusedWithin(Duration.ofSeconds(5));
        assertThat(listeners.boundAddress(second).getAddress().getHostAddress()).isEqualTo("127.0.0.2");
        listeners.reconcile(List.of(first, second));
        assertThat(listeners.addresses()).containsExactlyInAnyOrder(first, second);
    }

    /**
     * Asserts that connecting to the first listener's port is refused. The JDK defers closing a server
     * socket registered with a selector to the selector's next round, so with NIO the port can still
     * accept for a moment after its close future completed; the kernel only refuses once the file
     * descriptor is gone. A connection that got through is closed and the check repeated until refused.
     */
    private void assertConnectRefusedWithin(Duration limit) {
        Eventually.until(() -> {
            try (Socket accepted = connect()) {
                return false;
            } catch (ConnectException refused) {
                return true;
            }
        }, "the closed port to refuse connections", limit);
    }

    /** Reads until the connection ends and asserts it ended with a reset, never a clean end of stream. */
    static void assertReset(Socket s) {
        assertThatThrownBy(() -> {
            InputStream in = s.getInputStream();
            byte[] buf = new byte[64 * 1024];
            while (in.read(buf) >= 0) {
                // Bytes that arrived before the reset are not the point.
            }
        }).as("the client must see a reset, not a clean end").isInstanceOf(SocketException.class)
                .hasMessageContaining("Connection reset");
    }

    static byte[] sha256(byte[] bytes) throws NoSuchAlgorithmException {
        return MessageDigest.getInstance("SHA-256").digest(bytes);
    }

    static String read(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        in.transferTo(out);
        return out.toString(StandardCharsets.US_ASCII);
    }
}
