package io.nthlb.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.nthlb.proxy.ProxyHeader;
import io.nthlb.testing.FreePort;
import io.nthlb.testing.LoopbackBackend;
import java.io.IOException;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code run}'s --send-proxy, --accept-proxy and --transparent: what they accept, and how they refuse. */
class RunClientAddressTest {

    @TempDir
    Path dir;

    private final StringWriter err = new StringWriter();

    private Path rules(int vip) throws IOException {
        Path file = dir.resolve("test.rules");
        Files.writeString(file, Demo.rules(vip, 1, 2));
        return file;
    }

    private int execute(RunCommand run, String... args) {
        return RunCommandTest.execute(run, err, args);
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "--send-proxy v3|--send-proxy v3: PROXY protocol version: v3 (expected: v1 or v2)",
        "--send-proxy v2@127.0.0.1:1|--send-proxy v2@127.0.0.1:1: nthlb does not listen on 127.0.0.1:1 (it listens on 127.0.0.1:",
        "--send-proxy v2@127.0.0.1|--send-proxy v2@127.0.0.1: no port (expected: VERSION@ADDR:PORT)",
        "--send-proxy v2@localhost:80|--send-proxy v2@localhost:80: localhost:80 (expected: IPv4 address, A.B.C.D[:PORT])",
        "--send-proxy v1 --send-proxy v2|--send-proxy v2: already given as --send-proxy v1 (expected: one version for all listeners)",
        "--transparent --transport nio|nthlb run: --transparent needs the epoll or io_uring transport (nio cannot set IP_TRANSPARENT)",
    })
    void wrongOptionsExitTwoNamingTheValue(String argsAndMessage) throws Exception {
        String[] parts = argsAndMessage.split("\\|");
        List<String> args = new ArrayList<>(List.of(parts[0].split(" ")));
        args.add(rules(FreePort.onLoopback()).toString());
        assertThat(execute(new RunCommand(), args.toArray(String[]::new))).isEqualTo(2);
        assertThat(err.toString()).contains(parts[1]).doesNotContain("\tat ");
    }

    @Test
    void perListenerAndBareSendProxyAreKeptForTheRun() throws Exception {
        int vip = FreePort.onLoopback();
        RunCommand run = new RunCommand();
        run.signals = ShutdownSignals.manual();
        String file = rules(vip).toString();
        CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> execute(run, "--threads", "1", "--admin", "off",
                "--send-proxy", "v2@127.0.0.1:" + vip, "--send-proxy", "v1", "--accept-proxy", file));
        var addressing = run.started.get(30, TimeUnit.SECONDS).server().options().clientAddressing();
        assertThat(addressing.sendProxyFor(new InetSocketAddress(InetAddress.getLoopbackAddress(), vip)))
                .isEqualTo(ProxyHeader.Version.V2);
        assertThat(addressing.sendProxyFor(new InetSocketAddress(InetAddress.getLoopbackAddress(), 1)))
                .isEqualTo(ProxyHeader.Version.V1);
        assertThat(addressing.acceptProxy()).isTrue();
        assertThat(addressing.transparent()).isFalse();
        run.signals.received("SIGTERM");
        assertThat(exit.get(30, TimeUnit.SECONDS)).isZero();
    }

    @Test
    void reloadKeepsTheHeaderGivenAtStart() throws Exception {
        BlockingQueue<String> received = new LinkedBlockingQueue<>();
        LoopbackBackend.Behaviour record = s -> received.add(new String(s.getInputStream().readAllBytes(),
                StandardCharsets.US_ASCII));
        try (LoopbackBackend before = new LoopbackBackend(record); LoopbackBackend after = new LoopbackBackend(record)) {
            int vip = FreePort.onLoopback();
            Path file = rules(vip);
            Files.writeString(file, Demo.rules(vip, before.address().getPort(), before.address().getPort()));
            RunCommand run = new RunCommand();
            run.signals = ShutdownSignals.manual();
            CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> execute(run, "--threads", "1",
                    "--admin", "off", "--send-proxy", "v1", file.toString()));
            var balancer = run.started.get(30, TimeUnit.SECONDS);
            Files.writeString(file, Demo.rules(vip, after.address().getPort(), after.address().getPort()));
            balancer.reload(file);
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), vip)) {
                s.getOutputStream().write('x');
                s.shutdownOutput();
                assertThat(received.poll(30, TimeUnit.SECONDS))
                        .isEqualTo("PROXY TCP4 127.0.0.1 127.0.0.1 " + s.getLocalPort() + " " + vip + "\r\nx");
            }
            assertThat(after.accepted).hasValue(1);
            run.signals.received("SIGTERM");
            assertThat(exit.get(30, TimeUnit.SECONDS)).isZero();
        }
    }

    /**
     * Without CAP_NET_ADMIN (and CAP_NET_RAW, which Linux also accepts for IP_TRANSPARENT) nthlb could make no
     * backend connection: it must say so at start, not fail every connection. Run in a child JVM whose
     * capabilities setpriv(1) has dropped.
     */
    @Test
    void transparentWithoutCapNetAdminExitsTwoNamingTheCapability() throws Exception {
        List<String> command = new ArrayList<>();
        if (RunCommandTest.effectiveUid() == 0) {
            List<String> dropCapabilities = List.of("setpriv", "--inh-caps=-net_admin,-net_raw",
                    "--bounding-set=-net_admin,-net_raw", "--");
            assumeTrue(RunCommandTest.runsCleanly(dropCapabilities, "true"), "setpriv cannot drop capabilities here");
            command.addAll(dropCapabilities);
        }
        command.addAll(List.of(Paths.get(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                System.getProperty("java.class.path"), "io.nthlb.Main", "run", "--admin", "off", "--transparent",
                rules(FreePort.onLoopback()).toString()));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(output).isEqualTo(2);
        assertThat(output).contains("nthlb run: --transparent needs the CAP_NET_ADMIN capability")
                .doesNotContain("\tat ");
    }
}
