package io.nthlb.balancer;

import static org.assertj.core.api.Assertions.assertThat;

import io.nthlb.nat.NatTable;
import io.nthlb.proxy.ProxyOptions;
import io.nthlb.proxy.RelayObserver;
import io.nthlb.proxy.Transport;
import io.nthlb.testing.FreePort;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reload on a real load balancer: the rules file, the table and the listening sockets on loopback. */
class LoadBalancerReloadTest {

    @TempDir
    Path dir;
    private LoadBalancer balancer;

    @AfterEach
    void stop() {
        if (balancer != null) {
            balancer.close();
        }
    }

    @Test
    void opensTheListenersTheNewRulesAddAndClosesTheOnesTheyDrop() throws IOException {
        int a = FreePort.onLoopback();
        int b = FreePort.onLoopback();
        int c = FreePort.onLoopback();
        Path file = start(rules(a, b));
        NatTable before = balancer.table();
        Files.writeString(file, rules(b, c));

        ReloadOutcome outcome = balancer.reload(file);

        assertThat(outcome.status()).isEqualTo(ReloadOutcome.Status.APPLIED);
        assertThat(outcome.messages()).containsExactly(
                "reloaded " + file + ": 2 rules; opened 127.0.0.1:" + c + "; closed 127.0.0.1:" + a);
        assertThat(balancer.table()).isNotSameAs(before);
        assertThat(balancer.listeners().addresses()).containsExactlyInAnyOrder(loopback(b), loopback(c));
    }

    @Test
    void unchangedListenersAreLeftAlone() throws IOException {
        int a = FreePort.onLoopback();
        Path file = start(rules(a));

        assertThat(balancer.reload(file).messages()).containsExactly("reloaded " + file + ": 1 rule");
        assertThat(balancer.listeners().addresses()).containsExactly(loopback(a));
    }

    @Test
    void aFileWithErrorsChangesNothingAndReturnsTheErrors() throws IOException {
        int a = FreePort.onLoopback();
        Path file = start(rules(a));
        NatTable before = balancer.table();
        Files.writeString(file, rules(a) + "iptables -t nat -A PREROUTING -m statistic --mode nope -j ACCEPT\n");

        ReloadOutcome outcome = balancer.reload(file);

        assertThat(outcome.status()).isEqualTo(ReloadOutcome.Status.REJECTED);
        assertThat(outcome.text()).isEqualTo(file + ":2: Bad mode \"nope\"\n");
        assertThat(balancer.table()).isSameAs(before);
        assertThat(balancer.listeners().addresses()).containsExactly(loopback(a));
    }

    @Test
    void aListenerThatCannotOpenUndoesTheOnesOpenedAndKeepsTheOldTable() throws IOException {
        int a = FreePort.onLoopback();
        int b = FreePort.onLoopback();
        try (ServerSocket squatter = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Path file = start(rules(a));
            NatTable before = balancer.table();
            Files.writeString(file, rules(a, b, squatter.getLocalPort()));

            ReloadOutcome outcome = balancer.reload(file);

            assertThat(outcome.status()).isEqualTo(ReloadOutcome.Status.FAILED);
            assertThat(outcome.messages().get(0)).startsWith("cannot listen on 127.0.0.1:" + squatter.getLocalPort());
            assertThat(balancer.table()).isSameAs(before);
            assertThat(balancer.listeners().addresses()).containsExactly(loopback(a));
        }
    }

    @Test
    void byDefaultAReloadStartsTheNthRotationOverAsIptablesRestoreDoes() throws IOException {
        int vip = FreePort.onLoopback();
        Path file = start(seed(vip));
        assertThat(backendOfNextConnection(vip)).isEqualTo("127.0.0.1:18201");

        assertThat(balancer.reload(file).status()).isEqualTo(ReloadOutcome.Status.APPLIED);

        assertThat(balancer.table().counters("PREROUTING", 0).packets()).isZero();
        assertThat(backendOfNextConnection(vip)).isEqualTo("127.0.0.1:18201");
        assertThat(backendOfNextConnection(vip)).isEqualTo("127.0.0.1:18202");
    }

    @Test
    void withReloadKeepsCountersTheRotationGoesOnWhereItWas() throws IOException {
        int vip = FreePort.onLoopback();
        Path file = start(seed(vip));
        balancer.keepCountersOnReload(true);
        assertThat(backendOfNextConnection(vip)).isEqualTo("127.0.0.1:18201");

        assertThat(balancer.reload(file).status()).isEqualTo(ReloadOutcome.Status.APPLIED);

        assertThat(balancer.table().counters("PREROUTING", 0).packets()).isEqualTo(1);
        assertThat(backendOfNextConnection(vip)).isEqualTo("127.0.0.1:18202");
        assertThat(backendOfNextConnection(vip)).isEqualTo("127.0.0.1:18201");
    }

    /** Where the running table sends the next connection to the VIP (the decision alone; no backend is needed). */
    private String backendOfNextConnection(int vip) {
        return balancer.table().decide(0x7f000001, 40000, 0x7f000001, vip).destination().toString().replace("/", "");
    }

    /** The seed's two nth rules on a loopback VIP, to two backends that are never connected to. */
    private static String seed(int vip) {
        return "iptables -t nat -A PREROUTING -d 127.0.0.1 -p tcp --dport " + vip
                + " -m statistic --mode nth --every 2 --packet 0 -j DNAT --to-destination 127.0.0.1:18201\n"
                + "iptables -t nat -A PREROUTING -d 127.0.0.1 -p tcp --dport " + vip
                + " -m statistic --mode nth --every 1 --packet 0 -j DNAT --to-destination 127.0.0.1:18202\n";
    }

    private Path start(String rules) throws IOException {
        Path file = dir.resolve("r.rules");
        Files.writeString(file, rules);
        CompiledRules compiled = CompiledRules.of(file);
        assertThat(compiled.errors()).isEmpty();
        balancer = LoadBalancer.start(compiled.table(),
                ProxyOptions.defaults(Transport.resolve(Transport.EPOLL)).withThreads(1), RelayObserver.NONE);
        return file;
    }

    /** One DNAT rule per VIP port on 127.0.0.1; the backend is never connected to. */
    private static String rules(int... vipPorts) {
        StringBuilder text = new StringBuilder();
        for (int port : vipPorts) {
            text.append("iptables -t nat -A PREROUTING -d 127.0.0.1 -p tcp --dport ").append(port)
                    .append(" -j DNAT --to-destination 127.0.0.1:9\n");
        }
        return text.toString();
    }

    private static InetSocketAddress loopback(int port) {
        return new InetSocketAddress("127.0.0.1", port);
    }

}
