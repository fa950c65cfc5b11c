package io.nthlb.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.nthlb.proxy.Transport;
import io.nthlb.testing.Eventually;
import io.nthlb.testing.FreePort;
import java.io.File;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A real consumer of {@code --send-proxy}: Debian's nginx as the backend, listening with {@code proxy_protocol},
 * answers and logs {@code $proxy_protocol_addr:$proxy_protocol_port}, which must be the client's own address and
 * port. .ci/run installs nginx; elsewhere the test is skipped when there is none.
 */
class NginxProxyProtocolTest {

    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    @TempDir
    static Path dir;

    private static Process nginx;
    private static int nginxPort;

    @BeforeAll
    static void startNginx() throws Exception {
        File binary = new File("/usr/sbin/nginx");
        assumeTrue(binary.canExecute() || System.getenv("CI") != null, "nginx is not installed (apt-get install nginx)");
        nginxPort = FreePort.onLoopback();
        Path conf = dir.resolve("nginx.conf");
        Files.writeString(conf, String.join("\n",
                "daemon off;",
                "master_process off;",
                "pid " + dir.resolve("nginx.pid") + ";",
                "error_log " + dir.resolve("error.log") + ";",
                "events { worker_connections 64; }",
                "http {",
                "  client_body_temp_path " + dir + "; proxy_temp_path " + dir + "; fastcgi_temp_path " + dir + ";",
                "  uwsgi_temp_path " + dir + "; scgi_temp_path " + dir + ";",
                "  log_format pp '$proxy_protocol_addr:$proxy_protocol_port $remote_addr \"$request\"';",
                "  access_log " + dir.resolve("access.log") + " pp;",
                "  server {",
                "    listen 127.0.0.1:" + nginxPort + " proxy_protocol;",
                "    location / { return 200 \"$proxy_protocol_addr:$proxy_protocol_port\\n\"; }",
                "  }",
                "}", ""));
        nginx = new ProcessBuilder(binary.getPath(), "-p", dir.toString(), "-e", dir.resolve("error.log").toString(),
                "-c", conf.toString()).redirectErrorStream(true).redirectOutput(dir.resolve("nginx.out").toFile())
                .start();
        // Listening once the pid file is written: nginx opens its sockets first.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!Files.exists(dir.resolve("nginx.pid"))) {
            assertThat(nginx.isAlive()).as("nginx exited: %s", Files.exists(dir.resolve("nginx.out"))
                    ? Files.readString(dir.resolve("nginx.out")) : "").isTrue();
            assertThat(System.nanoTime()).as("nginx started within 30 s").isLessThan(deadline);
            nginx.waitFor(20, TimeUnit.MILLISECONDS);
        }
    }

    @AfterAll
    static void stopNginx() throws InterruptedException {
        if (nginx != null) {
            nginx.destroy();
            if (!nginx.waitFor(10, TimeUnit.SECONDS)) {
                nginx.destroyForcibly();
            }
        }
    }

    static Stream<Arguments> transportsAndVersions() {
        return Stream.of(Transport.values()).filter(Transport::isAvailable)
                .flatMap(t -> Stream.of(Arguments.of(t.label(), "v1"), Arguments.of(t.label(), "v2")));
    }

    @ParameterizedTest(name = "{0} --send-proxy {1}")
    @MethodSource("transportsAndVersions")
    void nginxSeesTheClientsOwnAddressAndPort(String transport, String version) throws Exception {
        int vip = FreePort.onLoopback();
        Path rules = dir.resolve("nginx-" + transport + version + ".rules");
        Files.writeString(rules, Demo.rules(vip, nginxPort, nginxPort));
        RunCommand run = new RunCommand();
        run.signals = ShutdownSignals.manual();
        StringWriter err = new StringWriter();
        CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> RunCommandTest.execute(run, err,
                "--transport", transport, "--threads", "2", "--admin", "off", "--send-proxy", version, rules.toString()));
        run.started.get(30, TimeUnit.SECONDS);
        try {
            for (int i = 0; i < 2; i++) {
                try (Socket s = new Socket(LOOPBACK, vip)) {
                    s.setSoTimeout(30_000);
                    String path = "/" + transport + "-" + version + "-" + i;
                    s.getOutputStream().write(("GET " + path + " HTTP/1.0\r\nHost: test\r\n\r\n")
                            .getBytes(StandardCharsets.US_ASCII));
                    String response = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
                    String client = "127.0.0.1:" + s.getLocalPort();
                    assertThat(response).startsWith("HTTP/1.1 200").endsWith("\r\n\r\n" + client + "\n");
                    awaitLogLine(client + " 127.0.0.1 \"GET " + path + " HTTP/1.0\"");
                }
            }
        } finally {
            run.signals.received("SIGTERM");
        }
        assertThat(exit.get(30, TimeUnit.SECONDS)).as(err.toString()).isZero();
    }

    /** nginx writes its access log line after the response; waits for it. */
    private static void awaitLogLine(String line) {
        Path log = dir.resolve("access.log");
        Eventually.until(() -> Files.exists(log) && Files.readAllLines(log).contains(line), "nginx logged " + line);
    }

}
