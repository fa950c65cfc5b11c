package io.nthlb.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.nthlb.proxy.ProxyOptions;
import io.nthlb.proxy.Transport;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class DemoTest {

    @ParameterizedTest
    @EnumSource(value = Transport.class, names = {"EPOLL", "NIO"})
    void fourRequestsAlternateBCBC(Transport transport) throws Exception {
        assumeTrue(transport.isAvailable(), () -> transport + " unavailable: " + transport.unavailabilityCause());
        try (Demo demo = Demo.start(0, 0, 0, ProxyOptions.defaults(transport).withThreads(2))) {
            List<String> answers = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                answers.add(RunCommandTest.httpGet(demo.vip()));
            }
            assertThat(answers).containsExactly("Hello from backend B\n", "Hello from backend C\n",
                    "Hello from backend B\n", "Hello from backend C\n");
        }
    }

    @Test
    void bannerShowsTheRulesAndACurlLineForTheVip() throws Exception {
        try (Demo demo = Demo.start(0, 0, 0, ProxyOptions.defaults(Transport.NIO).withThreads(1))) {
            String port = String.valueOf(demo.vip().getPort());
            assertThat(demo.banner())
                    .contains("-A PREROUTING -d 127.0.0.1 -p tcp --dport " + port
                            + " -m statistic --mode nth --every 2 --packet 0 -j DNAT --to-destination 127.0.0.1:")
                    .contains("curl -s http://127.0.0.1:" + port + "/");
        }
    }
}
