package io.nthlb.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ch.qos.logback.classic.Level;
import io.netty.channel.epoll.LinuxSocket;
import io.netty.channel.socket.SocketChannel;
import io.nthlb.testing.Eventually;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

class TransportTest {

    /** The channel relay relies on this instead of setting TCP_NODELAY itself on every connection. */
    @ParameterizedTest
    @EnumSource(value = Transport.class, names = {"NIO", "IO_URING"})
    void newSocketChannelsHaveTcpNoDelayOn(Transport transport) {
        assumeTrue(transport.isAvailable(), transport + " unavailable");
        SocketChannel channel = transport.newSocketChannel(new InetSocketAddress(InetAddress.getLoopbackAddress(), 1));
        try {
            assertThat(channel.config().isTcpNoDelay()).isTrue();
        } finally {
            channel.unsafe().closeForcibly();
        }
    }

    /** One connection through a one-loop epoll proxy: the client's socket, the backend's end of it, the relay. */
    private interface OneConnection {
        void run(ProxyServer proxy, Socket client, Socket backend, RelayBase relay) throws Exception;
    }

    private static void throughEpollRelay(OneConnection test) throws Exception {
        assumeTrue(Transport.EPOLL.isAvailable(), "epoll unavailable");
        InetAddress loopback = InetAddress.getLoopbackAddress();
        try (ServerSocket backend = new ServerSocket(0, 50, loopback)) {
            InetSocketAddress target = new InetSocketAddress(loopback, backend.getLocalPort());
            ProxyServer proxy = ProxyServer.start(ProxyOptions.defaults(Transport.EPOLL).withThreads(1),
                    (client, local) -> Route.to(target, "TEST:1"), RelayObserver.NONE);
            try (Socket client = new Socket(loopback, proxy.listen(List.of(new InetSocketAddress(loopback, 0))).get(0).getPort());
                 Socket accepted = backend.accept()) {
                client.setSoTimeout(30_000);
                test.run(proxy, client, accepted, proxy.openRelays().get(0));
            } finally {
                proxy.close();
            }
        }
    }

    /**
     * Both sockets of an epoll relay have TCP_NODELAY and SO_KEEPALIVE on: the backend's sets them, the client's
     * inherits them from the listener (EpollListener sets them there, to save two setsockopt per connection).
     */
    @Test
    void epollRelaySocketsHaveNoDelayAndKeepAliveOn() throws Exception {
        throughEpollRelay((proxy, client, backend, relay) -> {
            LinuxSocket[] sockets = relay.loop.submit(() -> ((EpollRelay) relay).sockets()).get(30, TimeUnit.SECONDS);
            for (LinuxSocket socket : sockets) {
                assertThat(socket.isTcpNoDelay()).as("TCP_NODELAY on %s", socket).isTrue();
                assertThat(socket.isKeepAlive()).as("SO_KEEPALIVE on %s", socket).isTrue();
            }
        });
    }

    /**
     * The backend's last bytes and its FIN leave in one segment, as HAProxy sends them: once the backend's FIN has
     * come, the client's socket is corked before those bytes are written, and the FIN pushes them out. Bytes with
     * no FIN behind them must not be held back, so the socket is not corked before that.
     */
    @Test
    void epollRelayCorksTheClientSocketOnlyForTheBytesBeforeTheBackendsFin() throws Exception {
        throughEpollRelay((proxy, client, backend, relay) -> {
            InputStream in = client.getInputStream();
            backend.getOutputStream().write("first".getBytes(StandardCharsets.US_ASCII));
            assertThat(in.readNBytes(5)).asString(StandardCharsets.US_ASCII).isEqualTo("first");
            assertThat(clientCork(relay)).as("TCP_CORK with no FIN behind the bytes").isZero();

            // Hold the loop while the bytes and the FIN both arrive, so that one event reports them together.
            CountDownLatch sent = new CountDownLatch(1);
            Future<?> held = relay.loop.submit(() -> {
                sent.await(30, TimeUnit.SECONDS);
                return null;
            });
            backend.getOutputStream().write("last".getBytes(StandardCharsets.US_ASCII));
            backend.shutdownOutput();
            sent.countDown();
            held.get(30, TimeUnit.SECONDS);
            assertThat(in.readAllBytes()).asString(StandardCharsets.US_ASCII).isEqualTo("last");
            assertThat(clientCork(relay)).as("TCP_CORK once the FIN came").isEqualTo(1);
        });
    }

    /**
     * A relay's sockets leave epoll by being closed, without an epoll_ctl(DEL): Netty makes one only for a
     * descriptor that still says it is open, and on a closed number that call fails (EBADF), which Netty logs at
     * debug level. The client's socket is closed through the wrapper the FIN to it needed, and it must not be
     * taken for open after that.
     */
    @Test
    void epollRelayClosesWithoutEpollCtlDelOnAClosedDescriptor() throws Exception {
        try (LogLines debug = LogLines.of("io.netty.channel.epoll.EpollIoHandler", Level.DEBUG)) {
            throughEpollRelay((proxy, client, backend, relay) -> {
                backend.getOutputStream().write("bye".getBytes(StandardCharsets.US_ASCII));
                backend.close();
                // The backend's FIN reached the client through shutdown(2) on the client's socket.
                assertThat(client.getInputStream().readAllBytes()).asString(StandardCharsets.US_ASCII).isEqualTo("bye");
                client.close();
                Eventually.until(() -> proxy.openRelays().isEmpty(), "the relay to close");
                relay.loop.submit(() -> { }).get(30, TimeUnit.SECONDS); // the closes ran on the loop before this
                assertThat(debug.messages()).filteredOn(m -> m.startsWith("Unable to remove fd")).isEmpty();
            });
        }
    }

    /** TCP_CORK on the client's socket of an open epoll relay, read on its loop. */
    private static int clientCork(RelayBase relay) throws Exception {
        return relay.loop.submit(() -> ((EpollRelay) relay).sockets()[0].getIntOpt(6, 3)).get(30, TimeUnit.SECONDS);
    }

    @Test
    void namesAreWhatUsersType() {
        assertThat(Transport.forLabel("epoll")).isEqualTo(Transport.EPOLL);
        assertThat(Transport.forLabel("io_uring")).isEqualTo(Transport.IO_URING);
        assertThat(Transport.forLabel("NIO")).isEqualTo(Transport.NIO);
        assertThatThrownBy(() -> Transport.forLabel("kqueue"))
                .hasMessage("transport: kqueue (expected: epoll, nio or io_uring)");
    }

    @Test
    void nioIsAlwaysAvailableAndResolvesToItself() {
        assertThat(Transport.NIO.isAvailable()).isTrue();
        assertThat(Transport.NIO.unavailabilityCause()).isNull();
        assertThat(Transport.resolve(Transport.NIO)).isEqualTo(Transport.NIO);
    }
}
