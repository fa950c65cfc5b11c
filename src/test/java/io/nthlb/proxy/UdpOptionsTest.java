package io.nthlb.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UdpOptionsTest {

    @Test
    void theOpenFilesLimitIsTheSoftLimitOfProcSelfLimits(@TempDir Path dir) throws Exception {
        Path limits = dir.resolve("limits");
        Files.writeString(limits, """
                Limit                     Soft Limit           Hard Limit           Units
                Max processes             unlimited            unlimited            processes
                Max open files            20000                524288               files
                """);

        assertThat(Limits.openFilesLimit(limits)).isEqualTo(20000);
        assertThat(Limits.openFilesLimit(dir.resolve("none"))).isZero();
        assertThat(UdpOptions.defaultMaxFlows()).isGreaterThanOrEqualTo(1024);
    }

    @Test
    void aTimeoutOfZeroIsRefusedInTheOptionsWords() {
        assertThatThrownBy(() -> UdpOptions.defaults().withTimeout(Duration.ZERO))
                .hasMessageStartingWith("--udp-timeout: ").hasMessageEndingWith("(expected: > 0)");
        assertThatThrownBy(() -> UdpOptions.defaults().withMaxFlows(0))
                .hasMessage("--udp-max-flows: 0 (expected: >= 1)");
    }
}
