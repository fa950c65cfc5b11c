package io.nthlb.nat;

import static io.nthlb.nat.HostMatchTest.ip;
import static org.assertj.core.api.Assertions.assertThat;

import io.nthlb.rules.LoadResult;
import io.nthlb.rules.RulesFile;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Where nthlb listens for the corpus's real-shaped tables. */
class CorpusListenTest {

    private static NatTable load(String name) {
        LoadResult r = RulesFile.load(Path.of("src/test/resources/rules/" + name + ".rules"));
        assertThat(r.errors()).isEmpty();
        return NatTable.compile(r.ruleset());
    }

    @Test
    void dockerHostListensOnItsPublishedPortsAndTheLoopbackOnlyOneOnLoopback() {
        NatTable table = load("docker-host");
        assertThat(table.listenErrors()).isEmpty();
        assertThat(table.listenAddresses()).containsExactlyInAnyOrder(new ListenAddress(0, 8080),
                new ListenAddress(0, 8443), new ListenAddress(ip("127.0.0.1"), 5432));
    }

    @Test
    void kubeProxyListensOnItsTcpServicesOnlyNotOnUdpOrSctpOnes() {
        NatTable table = load("kube-proxy-services");
        assertThat(table.listenErrors()).isEmpty();
        assertThat(table.listenAddresses()).contains(new ListenAddress(ip("10.96.56.78"), 8080),
                new ListenAddress(0, 30080), new ListenAddress(0, 30090))
                .noneMatch(a -> a.port() == 53 || a.port() == 3868);
    }
}
