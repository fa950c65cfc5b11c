package io.nthlb.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.nthlb.testing.FreePort;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code nthlb run} as its own process, its class loading logged into the same stream as its own log: what the
 * first connection does not need (the JVM's metrics, which load JMX) comes after the listeners are open.
 */
class RunStartupOrderTest {

    @TempDir
    Path dir;

    @Test
    void listenersOpenBeforeTheJvmMetricsLoadJmx() throws Exception {
        int vip = FreePort.onLoopback();
        Path rules = dir.resolve("order.rules");
        Files.writeString(rules, "iptables -t nat -A PREROUTING -d 127.0.0.1 -p tcp --dport " + vip
                + " -j DNAT --to-destination 127.0.0.1:9\n");
        String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
        Path log = dir.resolve("out.log");
        // -Xlog writes to standard output and logback to standard error, each line as it happens: one file
        // holding both keeps their order.
        Process nthlb = new ProcessBuilder(List.of(java, "-Xlog:class+load=info:stdout", "-cp",
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
