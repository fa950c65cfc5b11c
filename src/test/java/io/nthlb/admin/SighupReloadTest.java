package io.nthlb.admin;

import io.nthlb.balancer.ReloadOutcome;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SighupReloadTest {

    @TempDir
    Path dir;

    @Test
    void sighupRunsTheReload() throws Exception {
        CountDownLatch reloaded = new CountDownLatch(1);
        SighupReload handler = SighupReload.install(() -> {
            reloaded.countDown();
            return ReloadOutcome.applied("ok");
        });
        try {
            // Sent from outside, as an operator's kill -HUP would be.
            Process kill = new ProcessBuilder("kill", "-HUP", Long.toString(ProcessHandle.current().pid()))
                    .inheritIO().start();
            assertThat(kill.waitFor()).isZero();
            assertThat(reloaded.await(10, TimeUnit.SECONDS)).isTrue();
        } finally {
            handler.close();
        }
    }

    /**
     * Under nohup SIGHUP is ignored from the start, and the JVM will not take over an ignored signal: a
     * kill -HUP would do nothing. {@code run} must say so at start-up instead of failing silently later.
     */
    @Test
    void runUnderNohupWarnsThatSighupCannotReload() throws Exception {
        int vip;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            vip = probe.getLocalPort();
        }
        Path rules = dir.resolve("nohup.rules");
        Files.writeString(rules, "iptables -t nat -A PREROUTING -d 127.0.0.1 -p tcp --dport " + vip
                + " -j DNAT --to-destination 127.0.0.1:9\n");
        String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
        Process nthlb = new ProcessBuilder(List.of("nohup", java, "-cp", System.getProperty("java.class.path"),
                "io.nthlb.Main", "run", "--threads", "1", "--admin", "127.0.0.1:0", rules.toString()))
                .redirectErrorStream(true)
                .start();
        ScheduledExecutorService watchdog = Executors.newSingleThreadScheduledExecutor();
        // Ends the process, and with it the read below, if the line never comes.
        watchdog.schedule(nthlb::destroyForcibly, 30, TimeUnit.SECONDS);
        List<String> said = new ArrayList<>();
        try (BufferedReader out = new BufferedReader(
                new InputStreamReader(nthlb.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = out.readLine()) != null; ) {
                said.add(line);
                if (line.contains("SIGHUP is ignored")) {
                    break;
                }
            }
        } finally {
            nthlb.destroyForcibly();
            watchdog.shutdownNow();
        }
        assertThat(said).anySatisfy(line -> assertThat(line)
                .contains("WARN")
                .contains("SIGHUP is ignored by this process (started under nohup?)")
                .contains("nthlb reload"));
    }
}
