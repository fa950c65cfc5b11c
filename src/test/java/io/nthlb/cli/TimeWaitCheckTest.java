package io.nthlb.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class TimeWaitCheckTest {

    @Test
    void reuseOnLeavesNothingToSay() {
        assertThat(TimeWaitCheck.warning(1, 32768, 60999, false, 0)).isEmpty();
    }

    @Test
    void loopbackOnlyReuseIsEnoughForBackendsOnLoopback() {
        assertThat(TimeWaitCheck.warning(2, 32768, 60999, true, 0)).isEmpty();
    }

    @Test
    void theWarningNamesTheSysctlsTheRateAndBothRemedies() {
        assertThat(TimeWaitCheck.warning(2, 32768, 60999, false, 0)).get().asString()
                .contains("net.ipv4.tcp_tw_reuse = 2 (loopback only)")
                .contains("net.ipv4.ip_local_port_range = 32768 60999")
                .contains("about 470 new connections per second")
                .contains("sysctl -w net.ipv4.tcp_tw_reuse=1")
                .contains("--source");
        assertThat(TimeWaitCheck.warning(0, 32768, 60999, true, 4)).get().asString()
                .contains("about 1882 new connections per second");
    }
}
