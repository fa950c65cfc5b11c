package io.nthlb.proxy;

import static io.nthlb.proxy.RecordingObserver.next;
import static io.nthlb.proxy.RelayTestSuite.assertReset;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ch.qos.logback.classic.Level;
import io.nthlb.testing.Eventually;
import io.nthlb.testing.HeldLoop;
import io.nthlb.testing.LoopbackBackend;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The connection limits and the failures nthlb causes itself, on real loopback sockets, on every transport:
 * what a client at the limit sees, what a per-client limit does, and that a connection nthlb cannot open is not
 * blamed on the backend.
 */
class ConnectionLimitsRelayTest {

    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    private final List<AutoCloseable> closeAfter = new ArrayList<>();
    private final RecordingObserver observer = new RecordingObserver();
    private ProxyServer proxy;
    private InetSocketAddress vip;

    @AfterEach
    void stop() throws Exception {
        if (proxy != null) {
            proxy.close();
        }
        for (AutoCloseable c : closeAfter) {
            c.close();
        }
    }

    private static ProxyOptions options(Transport transport) {
        assumeTrue(transport.isAvailable(), () -> transport + " unavailable: " + transport.unavailabilityCause());
        return ProxyOptions.defaults(transport).withThreads(2);
    }

    private void start(ProxyOptions options, LoopbackBackend backend) {
        closeAfter.add(backend);
        proxy = ProxyServer.start(options, (client, local) -> Route.to(backend.address(), "TEST:1"), observer);
        vip = proxy.listen(List.of(new InetSocketAddress(LOOPBACK, 0))).get(0);
    }

    private Socket connect() throws IOException {
        return connectFrom(null);
    }

    private Socket connectFrom(InetAddress source) throws IOException {
        Socket s = new Socket();
        closeAfter.add(s);
        s.setSoTimeout(30_000);
        if (source != null) {
            s.bind(new InetSocketAddress(source, 0));
        }
        s.connect(vip);
        return s;
    }

    /** Sends one byte and reads it back through the echo backend. */
    private static void echo(Socket s, char c) throws IOException {
        s.getOutputStream().write(c);
        assertThat(s.getInputStream().read()).as("echo of %s", c).isEqualTo(c);
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void atTheLimitTheNextClientIsNotAcceptedAndIsServedWhenAConnectionCloses(Transport transport) throws Exception {
        start(options(transport).withLimits(Limits.DEFAULT.withMaxConnections(2)), LoopbackBackend.echo());
        Socket a = connect();
        echo(a, 'a');
        Socket b = connect();
        echo(b, 'b');
        Socket c = connect(); // the kernel completes the handshake: the client cannot tell it waits
        c.getOutputStream().write('c');

        next(observer.limitReached, "stop at the connection limit");
        assertThat(proxy.openConnections()).isEqualTo(2);
        assertThat(observer.connecting).as("no backend connection is made for the third client").hasSize(2);

        a.close();
        assertThat(c.getInputStream().read()).as("the waiting client, served once a slot freed up").isEqualTo('c');
        echo(b, 'B');
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void clientsWaitingToBeAcceptedTogetherAtTheLimitCountOneStop(Transport transport) throws Exception {
        start(options(transport).withThreads(1).withLimits(Limits.DEFAULT.withMaxConnections(1)),
                LoopbackBackend.echo());
        echo(connect(), 'a');
        // The event loop is held while ten more clients connect, so that it finds them all waiting at once.
        CountDownLatch release = new CountDownLatch(1);
        HeldLoop.holdUntil(proxy.eventLoops(), release);
        for (int i = 0; i < 10; i++) {
            connect().getOutputStream().write('w');
        }
        release.countDown();

        next(observer.limitReached, "stop at the connection limit");
        // A task queued now runs after the loop's current turn, which handled the waiting clients.
        proxy.eventLoops().submit(() -> { }).get(10, TimeUnit.SECONDS);
        assertThat(observer.limitReached).as("further stops counted").isEmpty();
        assertThat(observer.connecting).as("backend connections").hasSize(1);
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void manyClientsAtOnceNeverGetMoreThanTheLimitAndAllAreServed(Transport transport) throws Exception {
        int max = 5;
        int clients = 60;
        AtomicInteger open = new AtomicInteger();
        AtomicInteger mostOpen = new AtomicInteger();
        start(options(transport).withLimits(Limits.DEFAULT.withMaxConnections(max)), new LoopbackBackend(s -> {
            mostOpen.accumulateAndGet(open.incrementAndGet(), Math::max);
            try {
                InputStream in = s.getInputStream();
                int b = in.read();
                s.getOutputStream().write(b);
                in.read(); // the client's end
            } finally {
                open.decrementAndGet();
            }
        }));
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        try {
            List<CompletableFuture<Integer>> answers = new ArrayList<>();
            for (int i = 0; i < clients; i++) {
                answers.add(CompletableFuture.supplyAsync(() -> {
                    try (Socket s = new Socket(LOOPBACK, vip.getPort())) {
                        s.setSoTimeout(60_000);
                        s.getOutputStream().write('x');
                        return s.getInputStream().read();
                    } catch (IOException e) {
                        throw new RuntimeException(e);
                    }
                }, pool));
            }
            for (CompletableFuture<Integer> answer : answers) {
                assertThat(answer.get(120, TimeUnit.SECONDS)).isEqualTo((int) 'x');
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(mostOpen.get()).as("backend connections open at once").isLessThanOrEqualTo(max);
        assertThat(observer.limitReached).isNotEmpty();
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void aClientOverItsLimitIsResetOnAcceptWhileOtherClientsAreServed(Transport transport) throws Exception {
        start(options(transport).withLimits(Limits.DEFAULT.withMaxPerClient(1)), LoopbackBackend.echo());
        try (LogLines warnings = LogLines.of(ProxyServer.class.getName(), Level.WARN)) {
            Socket first = connect();
            echo(first, '1');
            Socket second = connect();
            assertReset(second);
            assertReset(connect());
            assertThat(next(observer.clientRefused, "refusal")).isEqualTo(ClientLimit.CONNECTIONS);

            Socket other = connectFrom(InetAddress.getByName("127.0.0.2"));
            echo(other, 'o');

            first.close();
            // Its count is given back when its socket is closed, which on io_uring completes after the relay ended.
            Eventually.until(() -> proxy.limits().served() == 1, "the first connection's slot given back");
            echo(connect(), '3');
            assertThat(warnings.messages()).filteredOn(m -> m.contains("--max-connections-per-client"))
                    .as("one line for both refusals (rate-limited)").hasSize(1);
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void anIdleFloodFromOneAddressDoesNotKeepOtherClientsOut(Transport transport) throws Exception {
        int perClient = 10;
        int flood = 40;
        start(options(transport).withLimits(new Limits(2 * perClient, perClient, 0)), LoopbackBackend.echo());
        for (int i = 0; i < flood; i++) {
            connect(); // opened and left silent, to a backend that waits for bytes too
        }
        for (int i = 0; i < flood - perClient; i++) {
            assertThat(next(observer.clientRefused, "refusal " + i)).isEqualTo(ClientLimit.CONNECTIONS);
        }
        // On NIO an admitted connection is counted open once its own event loop has registered it.
        Eventually.until(() -> proxy.openConnections() == perClient, perClient + " connections open");
        echo(connectFrom(InetAddress.getByName("127.0.0.2")), 'n');
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void aConnectionNthlbCannotOpenEndsLocalErrorAndDoesNotBlameTheBackend(Transport transport) throws Exception {
        assumeTrue(transport.bindsSourceWithoutPort(), "--source needs IP_BIND_ADDRESS_NO_PORT");
        assumeTrue(Files.readString(Path.of("/proc/sys/net/ipv4/ip_nonlocal_bind")).trim().equals("0"),
                "binding an address this host does not have must fail (net.ipv4.ip_nonlocal_bind = 0)");
        // Not an address of this host: binding it fails with EADDRNOTAVAIL, the errno of a port range exhausted.
        InetAddress notHere = InetAddress.getByName("192.0.2.1");
        start(options(transport).withSources(List.of(notHere)), LoopbackBackend.echo());
        try (LogLines warnings = LogLines.of(ProxyServer.class.getName(), Level.WARN)) {
            for (int i = 0; i < 2; i++) {
                Socket s = connect();
                assertReset(s);
                assertThat(observer.nextEnded().ending()).isEqualTo(Ending.LOCAL_ERROR);
                assertThat(next(observer.localFailures, "local failure")).isEqualTo(LocalFailure.SOURCE_PORTS);
            }
            assertThat(observer.connectFailures).as("the backend is not blamed").isEmpty();
            assertThat(warnings.messages()).filteredOn(m -> m.contains("cannot connect"))
                    .as("one line for both failures (rate-limited)").singleElement().asString()
                    .contains("127.0.0.1").contains("net.ipv4.tcp_tw_reuse");
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void backendConnectionsComeFromTheSourceAddressesInTurn(Transport transport) throws Exception {
        assumeTrue(transport.bindsSourceWithoutPort(), "--source needs IP_BIND_ADDRESS_NO_PORT");
        BlockingQueue<InetAddress> peers = new LinkedBlockingQueue<>();
        LoopbackBackend backend = new LoopbackBackend(s -> {
            peers.add(s.getInetAddress());
            s.getOutputStream().write(s.getInputStream().read());
            s.getInputStream().read();
        });
        start(options(transport).withSources(List.of(InetAddress.getByName("127.0.0.2"), InetAddress.getByName("127.0.0.3"))),
                backend);
        echo(connect(), 'a');
        echo(connect(), 'b');
        assertThat(List.of(next(peers, "first peer"), next(peers, "second peer")))
                .containsExactlyInAnyOrder(InetAddress.getByName("127.0.0.2"), InetAddress.getByName("127.0.0.3"));
    }
}
