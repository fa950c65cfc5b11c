package io.nthlb.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.nthlb.admin.AdminServer;
import io.nthlb.testing.Eventually;
import io.nthlb.testing.FreePort;
import io.nthlb.testing.NeverAnswering;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.HttpURLConnection;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code nthlb run} with the seed's two rules on loopback over HTTP backends B and C, and C failing: refused
 * (stopped), unreachable (a connect that cannot complete) and flapping; with {@code --health-check} and
 * {@code --retries} no client connection fails, and without them every other one does, as in the kernel.
 */
class RunFailoverTest {

    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    @TempDir
    Path dir;
    private EventLoopGroup backendLoop;
    private DemoHttpBackend b;
    private DemoHttpBackend c;
    private int cPort;
    private String admin;
    private InetSocketAddress vip;
    private RunCommand run;
    private Path file;
    private CompletableFuture<Integer> exit;
    private final List<AutoCloseable> closeAfter = new ArrayList<>();

    @BeforeEach
    void startBackends() throws IOException {
        backendLoop = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        b = DemoHttpBackend.start("B", new InetSocketAddress(LOOPBACK, 0), backendLoop);
        c = DemoHttpBackend.start("C", new InetSocketAddress(LOOPBACK, 0), backendLoop);
        cPort = c.address().getPort();
    }

    @AfterEach
    void stop() throws Exception {
        if (run != null) {
            run.signals.received("SIGTERM");
            assertThat(exit.get(30, TimeUnit.SECONDS)).isZero();
        }
        for (AutoCloseable closeable : closeAfter) {
            closeable.close();
        }
        b.close();
        if (c != null) {
            c.close();
        }
        backendLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }

    private void run(String... options) throws Exception {
        int vipPort = FreePort.onLoopback();
        vip = new InetSocketAddress(LOOPBACK, vipPort);
        admin = "127.0.0.1:" + FreePort.onLoopback();
        file = dir.resolve("seed.rules");
        Files.writeString(file, Demo.rules(vipPort, b.address().getPort(), cPort));
        List<String> args = new ArrayList<>(List.of("--threads", "2", "--admin", admin));
        args.addAll(List.of(options));
        args.add(file.toString());
        run = new RunCommand();
        run.signals = ShutdownSignals.manual();
        exit = CompletableFuture.supplyAsync(() -> new CommandLine(run).execute(args.toArray(String[]::new)));
        run.started.get(30, TimeUnit.SECONDS);
    }

    /**
     * Stops C and waits until its port refuses: the JDK closes a server socket registered with a selector only at
     * the selector's next round, and a connection accepted meanwhile would be reset once established.
     */
    private void stopC() {
        c.close();
        c = null;
        Eventually.until(() -> {
            try (Socket probe = new Socket(LOOPBACK, cPort)) {
                return false;
            } catch (ConnectException refused) {
                return true;
            }
        }, "C's port refuses");
    }

    private void restartC() {
        c = DemoHttpBackend.start("C", new InetSocketAddress(LOOPBACK, cPort), backendLoop);
    }

    /** The backend that answered one GET on a new connection, or {@code null} when the connection failed. */
    private String get() {
        try (Socket s = new Socket(vip.getAddress(), vip.getPort())) {
            s.setSoTimeout(30_000);
            s.getOutputStream().write("GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            String response = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            int at = response.indexOf("Hello from backend ");
            return at < 0 ? null : response.substring(at + "Hello from backend ".length()).trim();
        } catch (IOException e) {
            return null;
        }
    }

    private List<String> get(int n) {
        List<String> answers = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            answers.add(get());
        }
        return answers;
    }

    private String adminGet(String path) throws IOException {
        HttpURLConnection http = (HttpURLConnection) URI.create("http://" + admin + path).toURL().openConnection();
        try (InputStream in = http.getInputStream()) {
            assertThat(http.getResponseCode()).isEqualTo(200);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } finally {
            http.disconnect();
        }
    }

    /** The value of {@code nthlb_upstream_up} for C, or {@code null} when there is no such sample. */
    private Double cUp() throws IOException {
        String prefix = "nthlb_upstream_up{backend=\"127.0.0.1:" + cPort + "\"} ";
        return adminGet("/metrics").lines().filter(line -> line.startsWith(prefix))
                .map(line -> Double.valueOf(line.substring(prefix.length()).trim())).findFirst().orElse(null);
    }

    private String cLine() throws IOException {
        return backendLine(cPort);
    }

    private String backendLine(int port) throws IOException {
        return adminGet("/backends").lines().filter(line -> line.startsWith("127.0.0.1:" + port + " "))
                .findFirst().orElseThrow();
    }

    @Test
    void stoppedCIsAnsweredByBAndRestartedCTakesItsShareAgainWithinRiseIntervalsAndOneMore() throws Exception {
        run("--health-check", "500ms", "--retries", "1");
        assertThat(get(4)).containsExactly("B", "C", "B", "C");
        assertThat(cUp()).isEqualTo(1.0);
        assertThat(cLine()).matches("127\\.0\\.0\\.1:\\d+ up \\S+ \\S+ - -");

        stopC();
        assertThat(get(20)).as("20 of 20 answered by B").containsOnly("B").hasSize(20);
        Eventually.until(() -> cUp() == 0.0, "C down in nthlb_upstream_up");
        assertThat(cLine()).matches("127\\.0\\.0\\.1:\\d+ down \\S+ \\S+ \\S+ refused \\((check|connection)\\)");

        restartC();
        long restarted = System.nanoTime();
        Eventually.until(() -> cUp() == 1.0, "C up again");
        // rise (2) x 500 ms + 500 ms, and the limit: 3 s.
        assertThat(System.nanoTime() - restarted).isLessThan(TimeUnit.SECONDS.toNanos(3));
        assertThat(cLine()).startsWith("127.0.0.1:" + cPort + " up ");
        List<String> next = get(20);
        assertThat(next).doesNotContainNull();
        assertThat(next.stream().filter("C"::equals).count()).as("C's share of %s", next).isGreaterThanOrEqualTo(8);
    }

    /** C is a listener with a full accept queue: its SYNs are dropped, so connecting to it never completes. */
    private void makeCUnreachable() throws IOException {
        stopC();
        NeverAnswering unreachable = new NeverAnswering();
        closeAfter.add(unreachable);
        cPort = unreachable.address().getPort();
    }

    @Test
    void unreachableCCostsOneConnectTimeoutAndTheRetryReachesB() throws Exception {
        makeCUnreachable();
        run("--retries", "1", "--connect-timeout", "300ms");
        assertThat(get(20)).containsOnly("B").hasSize(20);
    }

    @Test
    void unreachableCIsCheckedDownAndDecidedPastWithoutRetries() throws Exception {
        makeCUnreachable();
        run("--health-check", "500ms", "--connect-timeout", "300ms");
        Eventually.until(() -> cUp() == 0.0, "C down in nthlb_upstream_up");
        assertThat(cLine()).contains(" down ").endsWith(" timeout (check)");
        assertThat(get(20)).containsOnly("B").hasSize(20);
    }

    @Test
    void flappingCNeverCostsAClientConnection() throws Exception {
        run("--health-check", "200ms", "--retries", "1");
        for (int flap = 0; flap < 2; flap++) {
            stopC();
            assertThat(get(10)).containsOnly("B");
            Eventually.until(() -> cUp() == 0.0, "C down");
            restartC();
            Eventually.until(() -> cUp() == 1.0, "C up");
            List<String> up = get(10);
            assertThat(up).doesNotContainNull().contains("C");
        }
    }

    @Test
    void reloadKeepsTheStateOfBackendsThatRemainAndChecksNewOnesFromTheStart() throws Exception {
        run("--health-check", "200ms", "--retries", "1");
        stopC();
        Eventually.until(() -> cUp() == 0.0, "C down");
        String[] before = cLine().split(" ");
        DemoHttpBackend d = DemoHttpBackend.start("D", new InetSocketAddress(LOOPBACK, 0), backendLoop);
        closeAfter.add(d);
        int dPort = d.address().getPort();
        Files.writeString(file, Files.readString(file).replace("--every 2", "--every 3").replace("--every 1",
                "--every 2") + "iptables -t nat -A PREROUTING -d 127.0.0.1 -p tcp --dport " + vip.getPort()
                + " -m statistic --mode nth --every 1 --packet 0 -j DNAT --to-destination 127.0.0.1:" + dPort + "\n");
        HttpURLConnection http = (HttpURLConnection) URI.create("http://" + admin + "/reload").toURL().openConnection();
        http.setRequestMethod("POST");
        http.setRequestProperty(AdminServer.RELOAD_HEADER, "1");
        assertThat(http.getResponseCode()).isEqualTo(200);
        http.disconnect();

        String[] after = cLine().split(" ");
        assertThat(after[1]).isEqualTo("down");
        assertThat(after[2]).as("down since").isEqualTo(before[2]);
        assertThat(backendLine(dPort)).startsWith("127.0.0.1:" + dPort + " up ");
        Eventually.until(() -> !backendLine(dPort).contains(" - - -"), "D's first check");
        assertThat(get(10)).containsOnly("B", "D").contains("D");
    }

    @Test
    void withoutTheOptionsAStoppedCCostsEveryOtherConnectionAsInTheKernel() throws Exception {
        run();
        assertThat(get(2)).containsExactly("B", "C");
        stopC();
        List<String> answers = get(20);
        for (int i = 0; i < 20; i++) {
            assertThat(answers.get(i)).as("connection %d of %s", i, answers).isEqualTo(i % 2 == 0 ? "B" : null);
        }
        assertThat(cUp()).as("no health checks, no nthlb_upstream_up").isNull();
        assertThat(cLine()).isEqualTo("127.0.0.1:" + cPort + " unchecked - - - -");
    }
}
