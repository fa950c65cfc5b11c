package io.nthlb.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SysctlTest {

    @Test
    void readsTheKernelsOwnFileWhole() throws Exception {
        // procfs reports a size of 0 for it: what cat(1) reads is the reference.
        Path range = Path.of("/proc/sys/net/ipv4/ip_local_port_range");
        Assumptions.assumeTrue(Files.exists(range), "no " + range + " here");
        Process cat = new ProcessBuilder("cat", range.toString()).start();
        int[] expected = Arrays.stream(new String(cat.getInputStream().readAllBytes(), StandardCharsets.US_ASCII)
                .trim().split("\\s+")).mapToInt(Integer::parseInt).toArray();
        assertThat(Sysctl.ints(range)).hasSize(2).containsExactly(expected);
    }

    @Test
    void fieldsSeparatedByTabsOrSpaces(@TempDir Path dir) throws IOException {
        assertThat(Sysctl.ints(Files.writeString(dir.resolve("a"), "32768\t60999\n"))).containsExactly(32768, 60999);
        assertThat(Sysctl.ints(Files.writeString(dir.resolve("b"), " 2\n"))).containsExactly(2);
    }

    @Test
    void anEmptyMissingOrNonNumericFileIsAnIoException(@TempDir Path dir) throws IOException {
        assertThatThrownBy(() -> Sysctl.ints(Files.writeString(dir.resolve("empty"), "")))
                .isInstanceOf(IOException.class);
        assertThatThrownBy(() -> Sysctl.ints(dir.resolve("missing"))).isInstanceOf(IOException.class);
        assertThatThrownBy(() -> Sysctl.ints(Files.writeString(dir.resolve("text"), "on\n")))
                .isInstanceOf(IOException.class).hasMessageContaining("not integers");
    }
}
