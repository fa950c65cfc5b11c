package io.nthlb.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import io.nthlb.testing.Eventually;
import io.nthlb.testing.UdpClient;
import io.nthlb.testing.UdpEchoBackend;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The UDP proxy on loopback with a fixed route: its access log, its table-full warning, its timeouts. */
class UdpProxyTest {

    private ProxyServer server;
    private UdpProxy udp;

    @AfterEach
    void stop() {
        if (udp != null) {
            udp.close();
        }
        if (server != null) {
            server.close();
        }
    }

    @Test
    void aFlowThatTimesOutWritesOneAccessLogLine() throws Exception {
        try (UdpEchoBackend backend = UdpEchoBackend.start("B");
             LogLines access = LogLines.of("nthlb.access", Level.INFO);
             UdpClient client = UdpClient.onLoopback()) {
            InetSocketAddress vip = start(backend, UdpOptions.defaults().withTimeout(Duration.ofMillis(100)));
            client.exchange(vip, "ping");
            client.exchange(vip, "ping");

            List<String> lines = Eventually.await(access::messages, m -> !m.isEmpty());

            assertThat(lines).hasSize(1);
            assertThat(lines.get(0)).contains("client=127.0.0.1:" + client.port(),
                    "vip=127.0.0.1:" + vip.getPort(), "rule=test", "backend=127.0.0.1:" + backend.port(),
                    "from_client=8", "from_backend=12", "end=udp-timeout");
        }
    }

    @Test
    void aFullTableIsLoggedOnceWhileItStaysFull() throws Exception {
        try (UdpEchoBackend backend = UdpEchoBackend.start("B");
             LogLines warnings = LogLines.of(UdpProxy.class.getName(), Level.WARN);
             UdpClient open = UdpClient.onLoopback(); UdpClient second = UdpClient.onLoopback();
             UdpClient third = UdpClient.onLoopback()) {
            InetSocketAddress vip = start(backend, UdpOptions.defaults().withMaxFlows(1));
            open.exchange(vip, "kept");

            second.send(vip, "dropped");
            third.send(vip, "dropped");
            Eventually.await(udp::droppedTableFull, n -> n == 2);

            assertThat(warnings.messages()).singleElement().asString()
                    .startsWith("udp flow table full (1 flows, --udp-max-flows)");
        }
    }

    @Test
    void onlyAnAnsweredFlowOlderThanTwoSecondsGetsTheStreamTimeout() {
        long second = TimeUnit.SECONDS.toNanos(1);
        assertThat(UdpFlow.isStream(false, 10 * second)).isFalse();
        assertThat(UdpFlow.isStream(true, second)).isFalse();
        assertThat(UdpFlow.isStream(true, 3 * second)).isTrue();
    }

    private InetSocketAddress start(UdpEchoBackend backend, UdpOptions options) {
        InetSocketAddress to = new InetSocketAddress(InetAddress.getLoopbackAddress(), backend.port());
        Router router = (client, local) -> Route.to(to, "test");
        server = ProxyServer.start(ProxyOptions.defaults(Transport.resolve(Transport.EPOLL)).withThreads(2), router,
                RelayObserver.NONE);
        udp = UdpProxy.start(server, options, router, RelayObserver.NONE);
        InetSocketAddress any = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
        udp.listeners().reconcile(List.of(any));
        return udp.listeners().boundAddress(any);
    }
}
