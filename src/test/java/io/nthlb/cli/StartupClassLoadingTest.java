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
 * it loads what the first connection does not need, sets up its logging without parsing XML unless it is given
 * a file, and the commands that answer at once load no more than they use.
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
        Path classes = dir.resolve("classes.log");
        // The JVM writes each class-load line as the class loads; so what the file holds when the listener first
        // accepts is everything loaded before it opened. (nthlb's own log lines are written by a thread of their
        // own, so their order against these lines says nothing.)
        Process nthlb = new ProcessBuilder(List.of(java(), "-Xlog:class+load=info:file=" + classes, "-cp",
                System.getProperty("java.class.path"), "io.nthlb.Main", "run", "--threads", "1",
                "--admin", "127.0.0.1:0", rules.toString()))
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        try {
            String beforeListening = null;
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (beforeListening == null && System.nanoTime() < end && nthlb.isAlive()) {
                String seen = Files.exists(classes) ? Files.readString(classes) : "";
                try (java.net.Socket probe = new java.net.Socket()) {
                    probe.connect(new java.net.InetSocketAddress("127.0.0.1", vip), 1000);
                    beforeListening = seen;
                } catch (IOException notYet) {
                    TimeUnit.MILLISECONDS.sleep(5);
                }
            }
            assertThat(beforeListening).as("nthlb run never accepted on 127.0.0.1:%d", vip).isNotNull();
            assertThat(beforeListening).contains("io.nthlb.Main ").doesNotContain("javax.management.");
            assertThat(awaitText(classes, "javax.management.")).contains("javax.management.");
        } finally {
            nthlb.destroyForcibly();
            nthlb.waitFor(30, TimeUnit.SECONDS);
        }
    }

    @Test
    void runLogsToTheDroppingStandardErrorAppenderWithoutParsingXml() throws Exception {
        int vip = FreePort.onLoopback();
        Path log = dir.resolve("out.log");
        Process nthlb = run(vip, log, List.of());
        try {
            String out = awaitText(log, "listening on 127.0.0.1:" + vip);
            // conf/logback.xml's line, written by the appender that drops rather than waits.
            String line = "\\d\\d:\\d\\d:\\d\\d\\.\\d{3} INFO  ListenerSet - listening on 127\\.0\\.0\\.1:" + vip;
            assertThat(out).containsPattern(line)
                    .contains("io.nthlb.log.StandardErrorAppender ")
                    .doesNotContain("javax.xml.parsers.", "ch.qos.logback.classic.joran.JoranConfigurator ");
        } finally {
            stop(nthlb);
        }
    }

    @Test
    void runLogsAsTheConfigurationFileItIsGivenSays() throws Exception {
        int vip = FreePort.onLoopback();
        Path config = Files.writeString(dir.resolve("console.xml"), """
                <configuration>
                  <appender name="OUT" class="ch.qos.logback.core.ConsoleAppender">
                    <encoder><pattern>custom %level %logger{0}: %msg%n</pattern></encoder>
                  </appender>
                  <root level="INFO"><appender-ref ref="OUT"/></root>
                </configuration>
                """);
        Path log = dir.resolve("out.log");
        Process nthlb = run(vip, log, List.of("-Dlogback.configurationFile=" + config));
        try {
            awaitText(log, "custom INFO ListenerSet: listening on 127.0.0.1:" + vip);
        } finally {
            stop(nthlb);
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

    /** {@code nthlb run} on a rule for {@code vip}, the classes it loads and its log written to one file. */
    private Process run(int vip, Path log, List<String> jvmFlags) throws IOException {
        Path rules = dir.resolve("order.rules");
        Files.writeString(rules, "iptables -t nat -A PREROUTING -d 127.0.0.1 -p tcp --dport " + vip
                + " -j DNAT --to-destination 127.0.0.1:9\n");
        List<String> argv = new ArrayList<>(List.of(java(), "-Xlog:class+load=info:stdout"));
        argv.addAll(jvmFlags);
        argv.addAll(List.of("-cp", System.getProperty("java.class.path"), "io.nthlb.Main", "run", "--threads", "1",
                "--admin", "127.0.0.1:0", rules.toString()));
        return new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    private static void stop(Process nthlb) throws InterruptedException {
        nthlb.destroyForcibly();
        nthlb.waitFor(30, TimeUnit.SECONDS);
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
