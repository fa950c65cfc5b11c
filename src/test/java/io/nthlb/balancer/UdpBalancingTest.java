package io.nthlb.balancer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.nthlb.health.FailoverOptions;
import io.nthlb.nat.NatTable;
import io.nthlb.proxy.ProxyOptions;
import io.nthlb.proxy.RelayObserver;
import io.nthlb.proxy.Transport;
import io.nthlb.proxy.UdpOptions;
import io.nthlb.testing.Eventually;
import io.nthlb.testing.FreePort;
import io.nthlb.testing.UdpClient;
import io.nthlb.testing.UdpEchoBackend;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * UDP through a whole load balancer on loopback: the seed's two nth rules with {@code -p udp}, two echo backends,
 * and clients that are new flows by being new sockets (new source ports), as conntrack counts them.
 */
class UdpBalancingTest {

    @TempDir
    Path dir;
    private LoadBalancer balancer;
    private UdpEchoBackend b;
    private UdpEchoBackend c;
    private int vip;
    private final List<UdpClient> clients = new ArrayList<>();

    @BeforeEach
    void backends() throws IOException {
        b = UdpEchoBackend.start("B");
        c = UdpEchoBackend.start("C");
        vip = FreePort.udpOnLoopback();
    }

    @AfterEach
    void stop() throws InterruptedException {
        clients.forEach(UdpClient::close);
        if (balancer != null) {
            balancer.close();
        }
        b.close();
        c.close();
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void tenNewFlowsAlternateBetweenTheBackendsAndAnswersComeFromTheVip(Transport transport) throws IOException {
        assumeTrue(transport.isAvailable(), () -> transport + " is not available here: " + transport.unavailabilityCause());
        start(seed(b.port(), c.port()), UdpOptions.defaults(), vipAddress(), transport);

        List<String> answeredBy = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            UdpClient.Answer answer = exchange(client(), "flow" + i);
            assertThat(answer.from()).isEqualTo(vipAddress());
            answeredBy.add(answer.text());
        }

        assertThat(answeredBy).containsExactly("B:flow0", "C:flow1", "B:flow2", "C:flow3", "B:flow4",
                "C:flow5", "B:flow6", "C:flow7", "B:flow8", "C:flow9");
        assertThat(balancer.table().counters("PREROUTING", 0).packets()).isEqualTo(5);
        assertThat(balancer.table().counters("PREROUTING", 1).packets()).isEqualTo(5);
    }

    @Test
    void everyDatagramOfAFlowGoesToTheBackendItsFirstWasSentTo() throws IOException {
        start(seed(b.port(), c.port()), UdpOptions.defaults());
        UdpClient first = client();
        UdpClient second = client();

        for (int i = 0; i < 5; i++) {
            assertThat(exchange(first, "a" + i).text()).isEqualTo("B:a" + i);
            assertThat(exchange(second, "b" + i).text()).isEqualTo("C:b" + i);
        }

        // One flow, one decision: the rules counted two flows, not ten datagrams; the bytes are both ways'.
        assertThat(decisions()).isEqualTo(2);
        assertThat(balancer.udp().openFlows()).isEqualTo(2);
        assertThat(b.senders()).hasSize(5).containsOnly(b.senders().get(0));
        long payload = 5 * ("a0".length() + "B:a0".length());
        Eventually.await(() -> balancer.table().counters("PREROUTING", 0).bytes(), n -> n == payload);
        assertThat(balancer.table().counters("PREROUTING", 0).bytes()).isEqualTo(payload);
    }

    @Test
    void anExpiredFlowIsDecidedAgainByItsNextDatagram() throws IOException {
        start(seed(b.port(), c.port()), UdpOptions.defaults().withTimeout(Duration.ofMillis(200)));
        UdpClient client = client();
        assertThat(exchange(client, "one").text()).isEqualTo("B:one");

        // Answered but younger than 2 s: the flow keeps the short timeout, as the kernel's does.
        assertThat(Eventually.await(() -> balancer.udp().openFlows(), n -> n == 0)).isZero();

        assertThat(exchange(client, "two").text()).isEqualTo("C:two");
        assertThat(decisions()).isEqualTo(2);
    }

    @Test
    void aFullTableDropsNewFlowsAndKeepsTheOpenOnes() throws IOException {
        start(seed(b.port(), c.port()), UdpOptions.defaults().withMaxFlows(1));
        UdpClient open = client();
        assertThat(exchange(open, "first").text()).isEqualTo("B:first");

        send(client(), "dropped");
        assertThat(Eventually.await(() -> balancer.udp().droppedTableFull(), n -> n == 1)).isEqualTo(1);

        assertThat(exchange(open, "still").text()).isEqualTo("B:still");
        // The dropped datagram was never decided.
        assertThat(decisions()).isEqualTo(1);
        assertThat(b.senders()).hasSize(2);
        assertThat(c.senders()).isEmpty();
    }

    @Test
    void aPortUnreachableFromTheBackendEndsTheFlowAndTheNextDatagramIsDecidedAgain() throws IOException {
        int dead = FreePort.udpOnLoopback();
        start(seed(dead, c.port()), UdpOptions.defaults());
        UdpClient client = client();

        send(client, "to nobody");
        // Decided once, and ended by the ICMP error rather than kept for its 30 s.
        Eventually.await(() -> decisions() == 1 && balancer.udp().openFlows() == 0, done -> done);
        assertThat(decisions()).isEqualTo(1);
        assertThat(balancer.udp().openFlows()).isZero();

        assertThat(exchange(client, "again").text()).isEqualTo("C:again");
        assertThat(decisions()).isEqualTo(2);
    }

    @Test
    void reloadKeepsTheFlowsOfTheListenersItKeeps() throws IOException {
        Path file = start(seed(b.port(), c.port()), UdpOptions.defaults());
        UdpClient kept = client();
        assertThat(exchange(kept, "before").text()).isEqualTo("B:before");

        // The new rules send everything to C; the flow made before goes on to B, as a conntrack entry would.
        Files.writeString(file, rule(vip, "--every 1 --packet 0", c.port()));
        assertThat(balancer.reload(file).status()).isEqualTo(ReloadOutcome.Status.APPLIED);

        assertThat(exchange(kept, "after").text()).isEqualTo("B:after");
        assertThat(exchange(client(), "new").text()).isEqualTo("C:new");
    }

    @Test
    void aWildcardListenerDecidesByTheAddressTheClientUsedAndAnswersFromIt() throws IOException {
        // No single -d host: one wildcard listener, and the rules tell 127.0.0.1 from 127.0.0.2 apart.
        start("iptables -t nat -A PREROUTING ! -d 127.0.0.2 -p udp --dport " + vip
                        + " -j DNAT --to-destination 127.0.0.1:" + b.port() + "\n"
                        + "iptables -t nat -A PREROUTING -p udp --dport " + vip
                        + " -j DNAT --to-destination 127.0.0.1:" + c.port() + "\n",
                UdpOptions.defaults(), new InetSocketAddress("0.0.0.0", vip));
        InetSocketAddress second = new InetSocketAddress("127.0.0.2", vip);
        UdpClient toFirst = client();
        UdpClient toSecond = client();

        for (int i = 0; i < 3; i++) {
            UdpClient.Answer fromFirst = toFirst.exchange(vipAddress(), "one" + i);
            UdpClient.Answer fromSecond = toSecond.exchange(second, "two" + i);

            assertThat(fromFirst.text()).isEqualTo("B:one" + i);
            assertThat(fromFirst.from()).isEqualTo(vipAddress());
            assertThat(fromSecond.text()).isEqualTo("C:two" + i);
            assertThat(fromSecond.from()).isEqualTo(second);
        }
        assertThat(balancer.udp().openFlows()).isEqualTo(2);
    }

    private Path start(String rules, UdpOptions udp) throws IOException {
        return start(rules, udp, vipAddress());
    }

    private Path start(String rules, UdpOptions udp, InetSocketAddress listener) throws IOException {
        return start(rules, udp, listener, Transport.resolve(Transport.EPOLL));
    }

    private Path start(String rules, UdpOptions udp, InetSocketAddress listener, Transport transport)
            throws IOException {
        Path file = dir.resolve("udp.rules");
        Files.writeString(file, rules);
        CompiledRules compiled = CompiledRules.of(file);
        assertThat(compiled.errors()).isEmpty();
        NatTable table = compiled.table();
        balancer = LoadBalancer.start(table, ProxyOptions.defaults(transport).withThreads(2),
                FailoverOptions.NONE, udp, RelayObserver.NONE, RelayObserver.NONE);
        assertThat(balancer.udpListening()).containsExactly(listener);
        return file;
    }

    /** Flows decided: each moved the counter of the one rule that took it. */
    private long decisions() {
        NatTable table = balancer.table();
        return table.counters("PREROUTING", 0).packets() + table.counters("PREROUTING", 1).packets();
    }

    private String seed(int first, int second) {
        return rule(vip, "--every 2 --packet 0", first) + rule(vip, "--every 1 --packet 0", second);
    }

    private static String rule(int vip, String nth, int backend) {
        return "iptables -t nat -A PREROUTING -d 127.0.0.1 -p udp --dport " + vip + " -m statistic --mode nth "
                + nth + " -j DNAT --to-destination 127.0.0.1:" + backend + "\n";
    }

    private InetSocketAddress vipAddress() {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), vip);
    }

    /** A new flow: a client with a port of its own. */
    private UdpClient client() throws IOException {
        UdpClient client = UdpClient.onLoopback();
        clients.add(client);
        return client;
    }

    private void send(UdpClient client, String text) throws IOException {
        client.send(vipAddress(), text);
    }

    private UdpClient.Answer exchange(UdpClient client, String text) throws IOException {
        return client.exchange(vipAddress(), text);
    }
}
