package io.nthlb.nat;

import static io.nthlb.nat.HostMatchTest.ip;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KernelNetworkTest {
    /** /proc/net/route of a Docker host: a default route, its own network, docker0's and a /32. */
    private static final String ROUTES = """
            Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
            eth0\t00000000\t0100A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
            eth1\t00000000\t0101A8C0\t0003\t0\t0\t200\t00000000\t0\t0\t0
            eth0\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
            docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
            tun0\t050011AC\t00000000\t0001\t0\t0\t0\tFFFFFFFF\t0\t0\t0
            down0\t000012AC\t00000000\t0000\t0\t0\t0\t0000FFFF\t0\t0\t0
            """;

    @Test
    void readsRoutesAsTheKernelWritesThem() {
        assertThat(KernelNetwork.parseRoutes(ROUTES)).contains(
                new KernelNetwork.Route("docker0", ip("172.17.0.0"), ip("255.255.0.0"), 0),
                new KernelNetwork.Route("eth0", 0, 0, 100)).hasSize(5);
    }

    @Test
    void theIncomingInterfaceIsTheOneOfTheRouteBackToTheClient(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("route");
        Files.writeString(file, ROUTES);
        KernelNetwork host = new KernelNetwork(file);
        assertThat(host.inInterface(ip("172.17.0.9"))).isEqualTo("docker0");
        assertThat(host.inInterface(ip("172.17.0.5"))).as("longest prefix").isEqualTo("tun0");
        assertThat(host.inInterface(ip("192.168.0.77"))).isEqualTo("eth0");
        assertThat(host.inInterface(ip("198.51.100.7"))).as("lowest metric default").isEqualTo("eth0");
        assertThat(host.inInterface(ip("172.18.0.2"))).as("a route that is down").isEqualTo("eth0");
        assertThat(host.inInterface(ip("127.0.0.1"))).as("the host itself").isEqualTo("lo");
    }

    @Test
    void loopbackAddressesAreLocalOnLo() {
        KernelNetwork host = KernelNetwork.host();
        assertThat(host.isLocal(ip("127.0.0.1"), null)).isTrue();
        assertThat(host.isLocal(ip("127.9.9.9"), "lo")).isTrue();
        assertThat(host.isLocal(ip("127.0.0.1"), "eth9")).isFalse();
        assertThat(host.isLocal(ip("192.0.2.1"), null)).as("TEST-NET-1 is no host's").isFalse();
    }

    @Test
    void theDestinationOfAnAcceptedConnectionIsLocalEvenBeforeTheAddressListKnowsIt() {
        KernelNetwork host = KernelNetwork.host();
        int notYetKnown = ip("192.0.2.200");
        assertThat(host.isLocal(notYetKnown, null)).isFalse();
        assertThat(host.isDestinationLocal(notYetKnown, null)).isTrue();
        assertThat(host.isDestinationLocal(ip("127.0.0.1"), "lo")).isTrue();
        assertThat(host.isDestinationLocal(ip("127.0.0.1"), "eth9")).as("held by lo, not eth9").isFalse();
    }
}
