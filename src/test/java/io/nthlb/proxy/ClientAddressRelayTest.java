package io.nthlb.proxy;

import static io.nthlb.proxy.ProxyHeaderTest.address;
import static io.nthlb.proxy.ProxyHeaderTest.concat;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ch.qos.logback.classic.Level;
import io.netty.buffer.ByteBufUtil;
import io.nthlb.testing.FreePort;
import io.nthlb.testing.LoopbackBackend;
import io.nthlb.testing.SegmentCountingBackend;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@code --send-proxy} and {@code --accept-proxy} on real loopback sockets, on every transport: what the backend
 * reads, what the rules decide with, and what happens to connections whose header is not one.
 */
class ClientAddressRelayTest {

    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
    private static final byte[] PAYLOAD = "GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

    private final List<AutoCloseable> closeAfter = new ArrayList<>();
    private final RecordingObserver observer = new RecordingObserver();
    /** Every (client, local) pair the router was asked about, in order. */
    private final BlockingQueue<InetSocketAddress[]> routed = new LinkedBlockingQueue<>();
    private ProxyServer proxy;

    @AfterEach
    void stop() throws Exception {
        if (proxy != null) {
            proxy.close();
        }
        for (AutoCloseable c : closeAfter) {
            c.close();
        }
    }

    /** Starts nthlb on {@code transport} with {@code addressing}, routing everything to {@code backend}. */
    private List<InetSocketAddress> start(Transport transport, ClientAddressing addressing, InetSocketAddress backend,
                                          InetSocketAddress... listen) {
        assumeTrue(transport.isAvailable(), () -> transport + " unavailable: " + transport.unavailabilityCause());
        proxy = ProxyServer.start(ProxyOptions.defaults(transport).withThreads(2).withClientAddressing(addressing),
                (client, local) -> {
                    routed.add(new InetSocketAddress[] {client, local});
                    return Route.to(backend, "TEST:1");
                }, observer);
        return proxy.listen(listen.length == 0 ? List.of(new InetSocketAddress(LOOPBACK, 0)) : List.of(listen));
    }

    /** A backend that reads everything until the client's FIN, answers "ok" and closes. */
    private Recorder recorder() throws IOException {
        Recorder r = new Recorder();
        closeAfter.add(r.backend);
        return r;
    }

    private static final class Recorder {
        final BlockingQueue<byte[]> received = new LinkedBlockingQueue<>();
        final LoopbackBackend backend;

        Recorder() throws IOException {
            backend = new LoopbackBackend(s -> {
                received.add(s.getInputStream().readAllBytes());
                s.getOutputStream().write("ok".getBytes(StandardCharsets.US_ASCII));
                s.shutdownOutput();
            });
        }

        byte[] next() throws InterruptedException {
            byte[] b = received.poll(30, TimeUnit.SECONDS);
            assertThat(b).as("the backend read a whole connection").isNotNull();
            return b;
        }
    }

    /** Sends {@code bytes} and FIN, and returns what came back. */
    private static String exchange(InetSocketAddress vip, byte[] bytes) throws IOException {
        try (Socket s = connect(vip)) {
            s.getOutputStream().write(bytes);
            s.shutdownOutput();
            return RelayTestSuite.read(s.getInputStream());
        }
    }

    private static Socket connect(InetSocketAddress vip) throws IOException {
        Socket s = new Socket(LOOPBACK, vip.getPort());
        s.setSoTimeout(30_000);
        return s;
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void sendsTheVersion1HeaderAheadOfTheClientsBytes(Transport transport) throws Exception {
        assertHeaderAheadOfTheClientsBytes(transport, ProxyHeader.Version.V1, (clientPort, vipPort) ->
                ("PROXY TCP4 127.0.0.1 127.0.0.1 " + clientPort + " " + vipPort + "\r\n").getBytes(StandardCharsets.US_ASCII));
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void sendsTheVersion2HeaderAheadOfTheClientsBytes(Transport transport) throws Exception {
        // Signature, version 2 PROXY, AF_INET STREAM, 12 bytes of addresses and ports, big-endian.
        assertHeaderAheadOfTheClientsBytes(transport, ProxyHeader.Version.V2, (clientPort, vipPort) ->
                ByteBuffer.allocate(28).put(ProxyHeader.V2_SIGNATURE).put((byte) 0x21).put((byte) 0x11)
                        .putShort((short) 12).put(new byte[] {127, 0, 0, 1}).put(new byte[] {127, 0, 0, 1})
                        .putShort(clientPort.shortValue()).putShort(vipPort.shortValue()).array());
    }

    private void assertHeaderAheadOfTheClientsBytes(Transport transport, ProxyHeader.Version version,
                                                    BiFunction<Integer, Integer, byte[]> expectedHeader)
            throws Exception {
        Recorder r = recorder();
        InetSocketAddress vip = start(transport, ClientAddressing.NONE.withSendProxy(version), r.backend.address()).get(0);
        try (Socket s = connect(vip)) {
            s.getOutputStream().write(PAYLOAD);
            s.shutdownOutput();
            assertThat(RelayTestSuite.read(s.getInputStream())).isEqualTo("ok");
            byte[] expected = concat(expectedHeader.apply(s.getLocalPort(), vip.getPort()), PAYLOAD);
            assertThat(ByteBufUtil.hexDump(r.next())).isEqualTo(ByteBufUtil.hexDump(expected));
        }
        Connection c = observer.nextEnded();
        assertThat(c.ending()).isEqualTo(Ending.CLOSED);
        assertThat(c.bytesFromClient()).as("the header is nthlb's, not the client's").isEqualTo(PAYLOAD.length);
    }

    /**
     * A retry sends the next backend everything the failed one would have had: the header nthlb writes and the
     * client's bytes that came with its own header.
     */
    @ParameterizedTest
    @EnumSource(Transport.class)
    void aRetrySendsTheHeaderAndTheBytesThatCameWithTheClientsHeaderAgain(Transport transport) throws Exception {
        Recorder r = recorder();
        InetSocketAddress refused = RelayTestSuite.refusingAddress();
        List<Ending> failures = new CopyOnWriteArrayList<>();
        assumeTrue(transport.isAvailable(), () -> transport + " unavailable: " + transport.unavailabilityCause());
        proxy = ProxyServer.start(ProxyOptions.defaults(transport).withThreads(2).withClientAddressing(
                        ClientAddressing.NONE.withAcceptProxy(true).withSendProxy(ProxyHeader.Version.V1)),
                (client, local) -> RelayTestSuite.retrying(failures, refused, r.backend.address()), observer);
        InetSocketAddress vip = proxy.listen(List.of(new InetSocketAddress(LOOPBACK, 0))).get(0);
        byte[] header = "PROXY TCP4 10.9.8.7 10.0.1.200 4321 80\r\n".getBytes(StandardCharsets.US_ASCII);
        try (Socket s = connect(vip)) {
            s.getOutputStream().write(concat(header, PAYLOAD));
            // The FIN only once the retry is under way: io_uring could read it early, and then not retry.
            assertThat(observer.rerouted.poll(30, TimeUnit.SECONDS)).as("retried").isNotNull();
            s.shutdownOutput();
            assertThat(RelayTestSuite.read(s.getInputStream())).isEqualTo("ok");
        }
        assertThat(r.next()).asString(StandardCharsets.US_ASCII)
                .isEqualTo("PROXY TCP4 10.9.8.7 10.0.1.200 4321 80\r\n" + new String(PAYLOAD, StandardCharsets.US_ASCII));
        assertThat(failures).containsExactly(Ending.REFUSED);
        assertThat(observer.nextEnded().retries()).isEqualTo(1);
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void sendsTheHeaderAtOnceToABackendThatSpeaksFirst(Transport transport) throws Exception {
        // SSH, SMTP, PostgreSQL's server side: the client says nothing until the server has.
        CompletableFuture<String> header = new CompletableFuture<>();
        LoopbackBackend greeter = new LoopbackBackend(s -> {
            InputStream in = s.getInputStream();
            StringBuilder line = new StringBuilder();
            for (int c; (c = in.read()) != '\n' && c >= 0; ) {
                line.append((char) c);
            }
            header.complete(line.toString());
            s.getOutputStream().write("220 hello\n".getBytes(StandardCharsets.US_ASCII));
            in.readAllBytes();
            s.shutdownOutput();
        });
        closeAfter.add(greeter);
        InetSocketAddress vip = start(transport, ClientAddressing.NONE.withSendProxy(ProxyHeader.Version.V1),
                greeter.address()).get(0);
        try (Socket s = connect(vip)) {
            byte[] greeting = s.getInputStream().readNBytes(10);
            assertThat(greeting).asString(StandardCharsets.US_ASCII).isEqualTo("220 hello\n");
            assertThat(header.get(30, TimeUnit.SECONDS)).startsWith("PROXY TCP4 127.0.0.1 127.0.0.1 " + s.getLocalPort());
            s.shutdownOutput();
            assertThat(s.getInputStream().read()).isEqualTo(-1);
        }
        assertThat(observer.nextEnded().ending()).isEqualTo(Ending.CLOSED);
    }

    /**
     * The header costs no write of its own: what the client sent before its backend accepted leaves with the header
     * in one write, so the backend's kernel receives one data segment. The router holds the connection until the
     * client has written, so the bytes are there when the connect completes. io_uring is left out: it cannot read
     * the client on the spot, and sends the header in a write of its own.
     */
    @ParameterizedTest
    @EnumSource(value = Transport.class, names = {"EPOLL", "NIO"})
    void theHeaderLeavesInOneWriteWithWhatTheClientSentWhileConnecting(Transport transport) throws Exception {
        assumeTrue(transport.isAvailable(), () -> transport + " unavailable: " + transport.unavailabilityCause());
        assumeTrue(Transport.EPOLL.isAvailable(), "the backend reads TCP_INFO through epoll");
        byte[] header = ProxyHeader.encode(ProxyHeader.Version.V2, address("127.0.0.1", 1), address("127.0.0.1", 2));
        SegmentCountingBackend backend = new SegmentCountingBackend(header.length + PAYLOAD.length);
        closeAfter.add(backend);
        CountDownLatch clientWrote = new CountDownLatch(1);
        proxy = ProxyServer.start(ProxyOptions.defaults(transport).withThreads(2)
                        .withClientAddressing(ClientAddressing.NONE.withSendProxy(ProxyHeader.Version.V2)),
                (client, local) -> {
                    awaitUninterruptibly(clientWrote);
                    return Route.to(backend.address(), "TEST:1");
                }, observer);
        InetSocketAddress vip = proxy.listen(List.of(new InetSocketAddress(LOOPBACK, 0))).get(0);
        try (Socket s = connect(vip)) {
            s.getOutputStream().write(PAYLOAD);
            clientWrote.countDown();
            SegmentCountingBackend.Received got = backend.received();
            byte[] expected = concat(ProxyHeader.encode(ProxyHeader.Version.V2,
                    address("127.0.0.1", s.getLocalPort()), address("127.0.0.1", vip.getPort())), PAYLOAD);
            assertThat(got.hex()).isEqualTo(ByteBufUtil.hexDump(expected));
            assertThat(got.bytesReceived()).as("TCP_INFO read where expected").isEqualTo(expected.length);
            assertThat(got.dataSegments()).as("data segments the backend received").isEqualTo(1);
        }
    }

    private static void awaitUninterruptibly(CountDownLatch latch) {
        try {
            assertThat(latch.await(30, TimeUnit.SECONDS)).as("the client wrote").isTrue();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void sendsTheHeaderOnlyOnTheListenerItWasAskedFor(Transport transport) throws Exception {
        Recorder r = recorder();
        InetSocketAddress web = new InetSocketAddress(LOOPBACK, FreePort.onLoopback());
        InetSocketAddress database = new InetSocketAddress(LOOPBACK, FreePort.onLoopback());
        List<InetSocketAddress> vips = start(transport,
                ClientAddressing.NONE.withSendProxyOn(Map.of(web, ProxyHeader.Version.V1)), r.backend.address(),
                web, database);
        exchange(vips.get(0), PAYLOAD);
        assertThat(r.next()).asString(StandardCharsets.US_ASCII).startsWith("PROXY TCP4 127.0.0.1 127.0.0.1 ")
                .endsWith(" " + web.getPort() + "\r\n" + new String(PAYLOAD, StandardCharsets.US_ASCII));
        exchange(vips.get(1), PAYLOAD);
        assertThat(r.next()).isEqualTo(PAYLOAD);
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void acceptedHeaderDecidesAndIsNeverRelayed(Transport transport) throws Exception {
        Recorder r = recorder();
        InetSocketAddress vip = start(transport, ClientAddressing.NONE.withAcceptProxy(true), r.backend.address()).get(0);
        try (LogLines access = LogLines.of("nthlb.access", Level.INFO)) {
            byte[] header = "PROXY TCP4 10.9.8.7 10.0.1.200 4321 80\r\n".getBytes(StandardCharsets.US_ASCII);
            assertThat(exchange(vip, concat(header, PAYLOAD))).isEqualTo("ok");
            assertThat(r.next()).isEqualTo(PAYLOAD);
            InetSocketAddress[] decided = routed.poll(30, TimeUnit.SECONDS);
            assertThat(decided).containsExactly(address("10.9.8.7", 4321), address("10.0.1.200", 80));
            Connection c = observer.nextEnded();
            assertThat(c.ending()).isEqualTo(Ending.CLOSED);
            assertThat(c.client()).isEqualTo(address("10.9.8.7", 4321));
            assertThat(c.bytesFromClient()).isEqualTo(PAYLOAD.length);
            assertThat(access.messages()).singleElement().asString()
                    .contains("client=10.9.8.7:4321 vip=10.0.1.200:80").contains("end=closed");
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void acceptedVersion2HeaderInPiecesIsPassedOnAsVersion1(Transport transport) throws Exception {
        Recorder r = recorder();
        InetSocketAddress vip = start(transport, ClientAddressing.NONE.withAcceptProxy(true)
                .withSendProxy(ProxyHeader.Version.V1), r.backend.address()).get(0);
        byte[] header = ProxyHeader.encode(ProxyHeader.Version.V2, address("10.9.8.7", 4321), address("10.0.1.200", 80));
        try (Socket s = connect(vip)) {
            // Byte by byte, then the payload: however the header arrives, nothing past it is taken for it.
            for (byte b : header) {
                s.getOutputStream().write(b);
                s.getOutputStream().flush();
            }
            s.getOutputStream().write(PAYLOAD);
            s.shutdownOutput();
            assertThat(RelayTestSuite.read(s.getInputStream())).isEqualTo("ok");
        }
        assertThat(r.next()).asString(StandardCharsets.US_ASCII).isEqualTo(
                "PROXY TCP4 10.9.8.7 10.0.1.200 4321 80\r\n" + new String(PAYLOAD, StandardCharsets.US_ASCII));
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void localCommandIsDecidedWithTheConnectionsOwnAddresses(Transport transport) throws Exception {
        Recorder r = recorder();
        InetSocketAddress vip = start(transport, ClientAddressing.NONE.withAcceptProxy(true), r.backend.address()).get(0);
        byte[] local = ByteBufUtil.decodeHexDump("0d0a0d0a000d0a515549540a" + "20" + "00" + "0007" + "04" + "0004"
                + "deadbeef"); // LOCAL, UNSPEC, with one TLV to skip
        assertThat(exchange(vip, concat(local, PAYLOAD))).isEqualTo("ok");
        assertThat(r.next()).isEqualTo(PAYLOAD);
        InetSocketAddress[] decided = routed.poll(30, TimeUnit.SECONDS);
        assertThat(decided[0].getAddress()).isEqualTo(LOOPBACK);
        assertThat(decided[1]).isEqualTo(vip);
    }

    /**
     * Malformed, truncated and random headers, each followed by the client's FIN: every one is reset, none reaches
     * the rules or a backend, the access log says why, nothing escapes to the event loop, and nthlb still serves.
     */
    @ParameterizedTest
    @EnumSource(Transport.class)
    void badHeadersAreResetAndNeverReachABackend(Transport transport) throws Exception {
        Recorder r = recorder();
        InetSocketAddress vip = start(transport, ClientAddressing.NONE.withAcceptProxy(true), r.backend.address()).get(0);
        List<byte[]> bad = new ArrayList<>();
        bad.add(new byte[0]);
        bad.add(PAYLOAD);
        bad.add("PROXY TCP4 10.9.8.7 10.0.1.200 4321 80\n".getBytes(StandardCharsets.US_ASCII));
        bad.add(("PROXY TCP6 " + "f".repeat(120) + "\r\n").getBytes(StandardCharsets.US_ASCII));
        Random random = new Random(12);
        for (int i = 0; i < 20; i++) {
            byte[] header = ProxyHeader.encode(i % 2 == 0 ? ProxyHeader.Version.V1 : ProxyHeader.Version.V2,
                    address("10.9.8.7", 4321), address("10.0.1.200", 80));
            bad.add(Arrays.copyOf(header, random.nextInt(header.length))); // truncated
            byte[] noise = new byte[random.nextInt(300)];
            random.nextBytes(noise);
            bad.add(noise);
            bad.add(concat(ProxyHeader.V2_SIGNATURE, noise)); // a signature with nonsense after it
        }
        try (LogLines access = LogLines.of("nthlb.access", Level.INFO);
             LogLines errors = LogLines.of("io.nthlb.proxy", Level.ERROR)) {
            for (byte[] b : bad) {
                try (Socket s = connect(vip)) {
                    s.getOutputStream().write(b);
                    s.shutdownOutput();
                    RelayTestSuite.assertReset(s);
                }
                Connection c = observer.nextEnded();
                assertThat(c.ending()).as("input %s", ByteBufUtil.hexDump(b)).isEqualTo(Ending.BAD_PROXY_HEADER);
                assertThat(c.route().backend()).isNull();
            }
            assertThat(routed).as("connections the rules were asked about").isEmpty();
            assertThat(r.backend.accepted).as("connections a backend accepted").hasValue(0);
            assertThat(access.messages()).hasSize(bad.size()).allSatisfy(line ->
                    assertThat(line).contains("client=127.0.0.1:").contains("end=bad-proxy-header"));
            assertThat(errors.messages()).isEmpty();
        }
        byte[] header = "PROXY TCP4 10.9.8.7 10.0.1.200 4321 80\r\n".getBytes(StandardCharsets.US_ASCII);
        assertThat(exchange(vip, concat(header, PAYLOAD))).as("still serving").isEqualTo("ok");
        assertThat(r.next()).isEqualTo(PAYLOAD);
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void connectionWithoutAHeaderInTimeIsReset(Transport transport) throws Exception {
        Recorder r = recorder();
        InetSocketAddress vip = start(transport, ClientAddressing.NONE.withAcceptProxy(true)
                .withHeaderTimeout(Duration.ofMillis(300)), r.backend.address()).get(0);
        for (String sent : new String[] {"", "PROXY TCP4 10.9.8.7 "}) {
            try (LogLines access = LogLines.of("nthlb.access", Level.INFO); Socket s = connect(vip)) {
                long begin = System.nanoTime();
                s.getOutputStream().write(sent.getBytes(StandardCharsets.US_ASCII));
                RelayTestSuite.assertReset(s);
                assertThat(System.nanoTime() - begin).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(250));
                assertThat(observer.nextEnded().ending()).isEqualTo(Ending.BAD_PROXY_HEADER);
                assertThat(access.messages()).singleElement().asString().contains("end=bad-proxy-header");
            }
        }
        assertThat(routed).isEmpty();
        assertThat(r.backend.accepted).as("connections a backend accepted").hasValue(0);
    }
}
