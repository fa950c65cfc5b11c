package io.nthlb.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.nthlb.testing.FreePort;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * nthlb as its own process, with the JVM logging every class it loads: {@code run} opens its listeners before
 * it loads what the first connection does not need, and the commands that answer at once load no more than
 * they use.
 */
class StartupClassLoadingTest {

    @TempDir
    Path dir;

    @Test
    void listenersOpenBeforeTheJvmMetricsLoadJmx() throws Exception {
        int vip = FreePort.onLoopback();
        Path rules = dir.resolve("order.rules");
        Files.writeString(rules, "iptables -t nat -A PREROUTING -d 127.0.0.1 -p tcp --dport " + vip
                + " -j DNAT --to-destination 127.0.0.1:9\n");
        Path log = dir.resolve("out.log");
        // -Xlog writes to standard output and logback to standard error, each line as it happens: one file
        // holding both keeps their order.
        Process nthlb = new ProcessBuilder(List.of(java(), "-Xlog:class+load=info:stdout", "-cp",
                System.getProperty("java.class.path"), "io.nthlb.Main", "run", "--threads", "1",
                "--admin", "127.0.0.1:0", rules.toString()))
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        try {
            awaitText(log, "listening on 127.0.0.1:" + vip);
            String out = awaitText(log, "javax.management.");
            assertThat(out.indexOf("javax.management.")).isGreaterThan(out.indexOf("listening on 127.0.0.1:" + vip));
        } finally {
            nthlb.destroyForcibly();
            nthlb.waitFor(30, TimeUnit.SECONDS);
        }
    }

    @Test
    void checkAndVersionDoNotConfigureLogging() throws Exception {
        for (List<String> command : List.of(List.of("check", "conf/seed.rules"), List.of("--version"),
                List.of("simulate", "conf/seed.rules", "--dst", "10.0.1.200:80"))) {
            List<String> argv = new ArrayList<>(List.of(java(), "-Xlog:class+load=info:stdout", "-cp",
                    System.getProperty("java.class.path"), "io.nthlb.Main"));
            argv.addAll(command);
            Process nthlb = new ProcessBuilder(argv).redirectErrorStream(true).start();
            String out = new String(nthlb.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(nthlb.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(nthlb.exitValue()).as("%s", command).isZero();
            assertThat(out).as("%s", command).contains("io.nthlb.Main ").doesNotContain("ch.qos.logback.");
        }
    }

    private static String java() {
        return Paths.get(System.getProperty("java.home"), "bin", "java").toString();
    }

    /** Polls the file until it contains {@code wanted}; 30 s at most. */
    private static String awaitText(Path file, String wanted) throws InterruptedException, IOException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        String seen = "";
        while (System.nanoTime() < end) {
            seen = Files.exists(file) ? Files.readString(file) : "";
            if (seen.contains(wanted)) {
                return seen;
            }
            TimeUnit.MILLISECONDS.sleep(20);
        }
        throw new AssertionError("nothing containing '" + wanted + "'; the process wrote:\n" + seen);
    }
}
