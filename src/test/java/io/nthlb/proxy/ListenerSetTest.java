package io.nthlb.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ch.qos.logback.classic.Level;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class ListenerSetTest {

    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    /**
     * With SO_REUSEPORT the kernel lets a second socket of the same user bind a port that is already taken and
     * then splits the new connections between the two: a second nthlb started by mistake would take half of
     * them, each counting its own nth sequence. It must be refused as a port in use, as without SO_REUSEPORT.
     */
    @ParameterizedTest
    @EnumSource(Transport.class)
    void aPortThatAnotherNthlbListensOnIsInUse(Transport transport) {
        assumeTrue(transport.isAvailable(), () -> transport + " unavailable: " + transport.unavailabilityCause());
        ProxyOptions options = ProxyOptions.defaults(transport).withThreads(2);
        try (ProxyServer first = ProxyServer.start(options, (client, local) -> Route.none("-"), RelayObserver.NONE);
             ProxyServer second = ProxyServer.start(options, (client, local) -> Route.none("-"), RelayObserver.NONE)) {
            InetSocketAddress taken = first.listen(List.of(new InetSocketAddress(LOOPBACK, 0))).get(0);

            assertThatThrownBy(() -> second.listen(List.of(taken)))
                    .isInstanceOf(ListenException.class)
                    .hasMessageContaining("cannot listen on " + Addresses.format(taken))
                    .hasMessageContaining("the port is in use");
            assertThat(second.listeners().boundAddress(taken)).isNull();
        }
    }

    /**
     * A reload that widens a listener to the wildcard opens the new one before closing the old one. (NIO has no
     * SO_REUSEPORT, and the kernel refuses that second bind there whatever nthlb checks.)
     */
    @ParameterizedTest
    @EnumSource(value = Transport.class, names = {"EPOLL", "IO_URING"})
    void aReloadCanMoveItsOwnListenerToTheWildcardOnTheSamePort(Transport transport) {
        assumeTrue(transport.isAvailable(), () -> transport + " unavailable: " + transport.unavailabilityCause());
        ProxyOptions options = ProxyOptions.defaults(transport).withThreads(2);
        try (ProxyServer server = ProxyServer.start(options, (client, local) -> Route.none("-"), RelayObserver.NONE)) {
            InetSocketAddress host = server.listen(List.of(new InetSocketAddress(LOOPBACK, 0))).get(0);
            // Bound only for the moment of the test; nothing is sent to it.
            InetSocketAddress wildcard = new InetSocketAddress(host.getPort());

            server.listen(List.of(wildcard));

            assertThat(server.listeners().boundAddress(wildcard)).isNotNull();
            assertThat(server.listeners().boundAddress(host)).isNull();
        }
    }

    /** The lines that say a listener opened and closed name the same address: the one the socket is bound to. */
    @ParameterizedTest
    @EnumSource(Transport.class)
    void startAndStopLinesNameTheSameBoundAddress(Transport transport) {
        assumeTrue(transport.isAvailable(), () -> transport + " unavailable: " + transport.unavailabilityCause());
        ProxyOptions options = ProxyOptions.defaults(transport).withThreads(2);
        try (LogLines lines = LogLines.of(ListenerSet.class.getName(), Level.INFO);
             ProxyServer server = ProxyServer.start(options, (client, local) -> Route.none("-"), RelayObserver.NONE)) {
            // Bound only for the moment of the test; nothing is sent to it.
            InetSocketAddress wildcard = new InetSocketAddress("0.0.0.0", 0);
            server.listen(List.of(wildcard));
            String bound = Addresses.format(server.listeners().boundAddress(wildcard));
            server.listeners().close(wildcard);

            assertThat(lines.messages()).anyMatch(l -> l.startsWith("listening on " + bound + " ("))
                    .contains("stopped listening on " + bound);
        }
    }

    /**
     * A rule without {@code -d} listens on IPv4's wildcard 0.0.0.0, on NIO too (the JDK would otherwise open a
     * dual-stack IPv6 socket and bind it as [::]). Netty's io_uring server channel cannot be told the family.
     */
    @ParameterizedTest
    @EnumSource(value = Transport.class, names = {"EPOLL", "NIO"})
    void anIpv4WildcardIsBoundAsZeroZeroZeroZero(Transport transport) {
        assumeTrue(transport.isAvailable(), () -> transport + " unavailable: " + transport.unavailabilityCause());
        ProxyOptions options = ProxyOptions.defaults(transport).withThreads(2);
        try (ProxyServer server = ProxyServer.start(options, (client, local) -> Route.none("-"), RelayObserver.NONE)) {
            // Bound only for the moment of the test; nothing is sent to it.
            InetSocketAddress wildcard = new InetSocketAddress("0.0.0.0", 0);

            server.listen(List.of(wildcard));

            InetSocketAddress bound = server.listeners().boundAddress(wildcard);
            assertThat(bound.getAddress()).isInstanceOf(Inet4Address.class);
            assertThat(Addresses.format(bound)).isEqualTo("0.0.0.0:" + bound.getPort());
        }
    }
}
