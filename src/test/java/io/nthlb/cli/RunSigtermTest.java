package io.nthlb.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nthlb.testing.Eventually;
import io.nthlb.testing.FreePort;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code nthlb run} as its own process: SIGTERM drains an open transfer, then the process exits 0. */
class RunSigtermTest {

    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"epoll", "nio"})
    void sigtermLetsTheOpenTransferFinishThenExitsZero(String transport) throws Exception {
        InetAddress loopback = InetAddress.getLoopbackAddress();
        try (ServerSocket backend = new ServerSocket(0, 16, loopback)) {
            Thread echo = new Thread(() -> {
                try (Socket s = backend.accept()) {
                    s.getInputStream().transferTo(s.getOutputStream());
                    s.shutdownOutput();
                } catch (IOException e) {
                    // The test fails on the client side if the echo breaks.
                }
            });
            echo.setDaemon(true);
            echo.start();

            int vip = FreePort.onLoopback();
            Path rules = dir.resolve("sigterm.rules");
            Files.writeString(rules, "iptables -t nat -A PREROUTING -d 127.0.0.1 -p tcp --dport " + vip
                    + " -j DNAT --to-destination 127.0.0.1:" + backend.getLocalPort() + "\n");
            String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
            Process nthlb = new ProcessBuilder(List.of(java, "-cp", System.getProperty("java.class.path"),
                    "io.nthlb.Main", "run", "--transport", transport, "--threads", "1", "--drain-timeout", "30s",
                    "--admin", "127.0.0.1:0", rules.toString()))
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(dir.resolve("stderr.log").toFile())
                    .start();
            try {
                Path log = dir.resolve("stderr.log");
                awaitLine(log, "listening on 127.0.0.1:" + vip + " (" + transport + ",");

                try (Socket client = new Socket(loopback, vip)) {
                    client.setSoTimeout(30_000);
                    OutputStream out = client.getOutputStream();
                    InputStream in = client.getInputStream();
                    out.write("before ".getBytes(StandardCharsets.US_ASCII));
                    assertThat(new String(in.readNBytes(7), StandardCharsets.US_ASCII)).isEqualTo("before ");

                    nthlb.destroy(); // SIGTERM
                    awaitLine(log, "stopped listening");
                    assertThatThrownBy(() -> new Socket(loopback, vip).close()).isInstanceOf(ConnectException.class);

                    out.write("after".getBytes(StandardCharsets.US_ASCII));
                    client.shutdownOutput();
                    assertThat(new String(in.readAllBytes(), StandardCharsets.US_ASCII)).isEqualTo("after");
                }
                assertThat(nthlb.waitFor(30, TimeUnit.SECONDS)).isTrue();
                assertThat(nthlb.exitValue()).isZero();
            } finally {
                nthlb.destroyForcibly();
            }
        }
    }

    /** Reads the process's standard error (a file) until a line contains {@code wanted}. */
    static void awaitLine(Path log, String wanted) {
        String seen = Eventually.await(() -> Files.exists(log) ? Files.readString(log) : "", s -> s.contains(wanted));
        assertThat(seen).as("the process's standard error").contains(wanted);
    }
}
