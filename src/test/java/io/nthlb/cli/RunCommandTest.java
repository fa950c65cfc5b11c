package io.nthlb.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.nthlb.Main;
import io.nthlb.admin.AdminAddress;
import io.nthlb.admin.AdminClient;
import io.nthlb.log.AccessLog;
import io.nthlb.proxy.Addresses;
import io.nthlb.proxy.ProxyServer;
import io.nthlb.testing.FreePort;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;

/** {@code nthlb run} in this JVM: real rules files, real sockets on loopback, a simulated SIGTERM. */
class RunCommandTest {

    @TempDir
    Path dir;

    private EventLoopGroup backendLoop;
    private final List<AutoCloseable> closeAfter = new ArrayList<>();
    private final StringWriter err = new StringWriter();

    @BeforeEach
    void startLoop() {
        backendLoop = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : closeAfter) {
            c.close();
        }
        backendLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }

    private DemoHttpBackend backend(String name) {
        DemoHttpBackend b = DemoHttpBackend.start(name, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), backendLoop);
        closeAfter.add(b);
        return b;
    }

    private Path rules(String text) throws IOException {
        Path file = dir.resolve("test.rules");
        Files.writeString(file, text);
        return file;
    }

    private int execute(RunCommand run, String... args) {
        return execute(run, err, args);
    }

    /** Runs {@code run} with {@code args} as picocli would, its error output going to {@code err}. */
    static int execute(RunCommand run, StringWriter err, String... args) {
        CommandLine cmd = new CommandLine(run);
        cmd.setErr(new PrintWriter(err, true));
        return cmd.execute(args);
    }

    @ParameterizedTest
    @ValueSource(strings = {"epoll", "nio"})
    void alternatesBackendsBCBCAndExitsZeroAfterSigterm(String transport) throws Exception {
        DemoHttpBackend b = backend("B");
        DemoHttpBackend c = backend("C");
        int vip = FreePort.onLoopback();
        Path file = rules(Demo.rules(vip, b.address().getPort(), c.address().getPort()));
        RunCommand run = new RunCommand();
        run.signals = ShutdownSignals.manual();
        CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> execute(run, "--transport", transport, "--threads", "2",
                "--admin", "127.0.0.1:0", file.toString()));
        assertThat(run.started.get(30, TimeUnit.SECONDS).server().options().transport().label()).isEqualTo(transport);

        List<String> answers = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            answers.add(httpGet(new InetSocketAddress(InetAddress.getLoopbackAddress(), vip)));
        }
        assertThat(answers).containsExactly("Hello from backend B\n", "Hello from backend C\n",
                "Hello from backend B\n", "Hello from backend C\n");

        run.signals.received("SIGTERM");
        assertThat(exit.get(30, TimeUnit.SECONDS)).isZero();
    }

    /**
     * A connection from this host arrives on {@code lo}, and its destination is an address of this host: Docker's
     * shape of rules decides it by interface and address type, not by assuming that every {@code -i} holds.
     */
    @Test
    void decidesByTheInterfaceTheConnectionCameInOnAndItsAddressType() throws Exception {
        DemoHttpBackend b = backend("B");
        DemoHttpBackend c = backend("C");
        int vip = FreePort.onLoopback();
        Path file = rules("iptables -t nat -N DOCKER\n"
                + "iptables -t nat -A PREROUTING -m addrtype ! --dst-type LOCAL -j ACCEPT\n"
                + "iptables -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\n"
                + "iptables -t nat -A DOCKER ! -i lo -p tcp --dport " + vip + " -j DNAT --to-destination 127.0.0.1:"
                + c.address().getPort() + "\n"
                + "iptables -t nat -A DOCKER -i lo -p tcp --dport " + vip + " -j DNAT --to-destination 127.0.0.1:"
                + b.address().getPort() + "\n");
        RunCommand run = new RunCommand();
        run.signals = ShutdownSignals.manual();
        CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> execute(run, "--admin", "off", file.toString()));
        run.started.get(30, TimeUnit.SECONDS);
        assertThat(httpGet(new InetSocketAddress(InetAddress.getLoopbackAddress(), vip)))
                .isEqualTo("Hello from backend B\n");
        run.signals.received("SIGTERM");
        assertThat(exit.get(30, TimeUnit.SECONDS)).isZero();
    }

    @Test
    void portInUseExitsTwoSayingSo() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Path file = rules(Demo.rules(taken.getLocalPort(), 1, 2));
            assertThat(execute(new RunCommand(), file.toString())).isEqualTo(2);
        }
        assertThat(err.toString()).contains("nthlb run: cannot listen on 127.0.0.1:").contains("in use");
    }

    @ParameterizedTest
    @ValueSource(strings = {"epoll", "nio"})
    void vipNotOnThisHostExitsTwoSayingWhatToDo(String transport) throws Exception {
        // 192.0.2.1 (TEST-NET-1) is only bound, never sent to.
        Path file = rules("iptables -t nat -A PREROUTING -d 192.0.2.1 -p tcp --dport 8080 -j DNAT --to-destination 127.0.0.1:1\n");
        assertThat(execute(new RunCommand(), "--transport", transport, file.toString())).isEqualTo(2);
        assertThat(err.toString()).contains("192.0.2.1 is not an address of this host")
                .contains("ip addr add 192.0.2.1/32").contains("--bind-any");
    }

    @Test
    void ruleWithoutDportIsRefusedNamingIt() throws Exception {
        Path file = rules("iptables -t nat -A PREROUTING -d 127.0.0.1 -p tcp -j DNAT --to-destination 127.0.0.1:1\n");
        assertThat(execute(new RunCommand(), file.toString())).isEqualTo(2);
        assertThat(err.toString()).contains(file + ":1: ")
                .contains("cannot be served by a userspace listener")
                .contains("(expected: --dport or -m multiport --dports)");
    }

    /**
     * A port below {@code net.ipv4.ip_unprivileged_port_start} without CAP_NET_BIND_SERVICE: {@code run}, as its
     * own process, exits 2 saying what gives it the right. As root the capability is dropped with setpriv(1)
     * (from the bounding and inheritable sets, so the java it runs has it in none); any other user runs it as is.
     */
    @ParameterizedTest
    @ValueSource(strings = {"epoll", "nio"})
    void privilegedPortWithoutTheRightExitsTwoNamingCapNetBindService(String transport) throws Exception {
        int unprivilegedStart;
        // Not Files.readString: on JDK 17 it reads a sysctl file (size 0) as its first byte only, "1" for "1024".
        try (BufferedReader sysctl = Files.newBufferedReader(Path.of("/proc/sys/net/ipv4/ip_unprivileged_port_start"))) {
            unprivilegedStart = Integer.parseInt(sysctl.readLine().trim());
        }
        int port = Math.min(1023, unprivilegedStart - 1);
        assumeTrue(port >= 1, "every port is unprivileged here (ip_unprivileged_port_start " + unprivilegedStart + ")");
        List<String> command = new ArrayList<>();
        if (effectiveUid() == 0) {
            List<String> dropCapability = List.of("setpriv", "--inh-caps=-net_bind_service",
                    "--bounding-set=-net_bind_service", "--");
            assumeTrue(runsCleanly(dropCapability, "true"), "setpriv cannot drop CAP_NET_BIND_SERVICE here");
            command.addAll(dropCapability);
        } else {
            assumeFalse(canBind(port), "this JVM may bind port " + port + " (it has CAP_NET_BIND_SERVICE)");
        }
        // Only bound, never sent to.
        Path file = rules("iptables -t nat -A PREROUTING -d 127.0.0.1 -p tcp --dport " + port
                + " -j DNAT --to-destination 127.0.0.1:1\n");
        Path log = dir.resolve("stderr.log");
        command.addAll(List.of(Paths.get(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "io.nthlb.Main",
                "run", "--admin", "off", "--transport", transport, file.toString()));
        Process nthlb = new ProcessBuilder(command)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(log.toFile())
                .start();
        try {
            assertThat(nthlb.waitFor(60, TimeUnit.SECONDS)).as("nthlb run exited").isTrue();
            String stderr = Files.readString(log);
            assertThat(nthlb.exitValue()).as(stderr).isEqualTo(2);
            assertThat(stderr).contains("nthlb run: cannot listen on 127.0.0.1:" + port
                    + ": ports below " + unprivilegedStart + " need root or CAP_NET_BIND_SERVICE (setcap"
                    + " cap_net_bind_service=+ep on the java binary, AmbientCapabilities=CAP_NET_BIND_SERVICE in the"
                    + " systemd unit, or sysctl net.ipv4.ip_unprivileged_port_start=" + port + ")");
        } finally {
            nthlb.destroyForcibly();
        }
    }

    static int effectiveUid() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("Uid:")) {
                return Integer.parseInt(line.split("\\s+")[2]); // real, effective, saved, filesystem
            }
        }
        throw new IllegalStateException("no Uid line in /proc/self/status");
    }

    static boolean runsCleanly(List<String> prefix, String command) throws InterruptedException {
        List<String> all = new ArrayList<>(prefix);
        all.add(command);
        try {
            Process p = new ProcessBuilder(all).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false; // not installed
        }
    }

    private static boolean canBind(int port) {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
            return true;
        } catch (IOException e) {
            return !String.valueOf(e.getMessage()).contains("Permission denied");
        }
    }

    @Test
    void badRulesFileExitsTwoWithTheCheckErrors() throws Exception {
        Path file = rules("iptables -t nat -A PREROUTING -p tcp --dport 80 -m statistic --mode nth --every 0 --packet 0"
                + " -j DNAT --to-destination 127.0.0.1:1\n");
        assertThat(execute(new RunCommand(), file.toString())).isEqualTo(2);
        assertThat(err.toString()).contains(file + ":1: ").contains("--every");
    }

    @Test
    void bindAnyWithNioIsRefused() throws Exception {
        Path file = rules(Demo.rules(FreePort.onLoopback(), 1, 2));
        assertThat(execute(new RunCommand(), "--transport", "nio", "--bind-any", file.toString())).isEqualTo(2);
        assertThat(err.toString()).contains("--bind-any needs the epoll or io_uring transport");
    }

    @Test
    void withoutThreadsRunsOneEventLoopMoreThanCoresEachWithItsOwnSocket() throws Exception {
        DemoHttpBackend b = backend("B");
        DemoHttpBackend c = backend("C");
        int vip = FreePort.onLoopback();
        Path file = rules(Demo.rules(vip, b.address().getPort(), c.address().getPort()));
        RunCommand run = new RunCommand();
        run.signals = ShutdownSignals.manual();
        CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> execute(run, "--transport", "epoll",
                "--admin", "off", file.toString()));
        ProxyServer server = run.started.get(30, TimeUnit.SECONDS).server();
        int loops = Runtime.getRuntime().availableProcessors() + 1;
        assertThat(server.options().threads()).isEqualTo(loops);
        assertThat(server.listeners().socketCount()).isEqualTo(loops);
        assertThat(httpGet(new InetSocketAddress(InetAddress.getLoopbackAddress(), vip))).isEqualTo("Hello from backend B\n");
        run.signals.received("SIGTERM");
        assertThat(exit.get(30, TimeUnit.SECONDS)).isZero();
    }

    @Test
    void accessLogHasOneLinePerConnectionInTheFileItNamesAndCountsDrops() throws Exception {
        DemoHttpBackend b = backend("B");
        DemoHttpBackend c = backend("C");
        int vip = FreePort.onLoopback();
        String admin = "127.0.0.1:" + FreePort.onLoopback();
        Path file = rules(Demo.rules(vip, b.address().getPort(), c.address().getPort()));
        Path accessLog = dir.resolve("access.log");
        RunCommand run = new RunCommand();
        run.signals = ShutdownSignals.manual();
        CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> execute(run, "--threads", "2",
                "--admin", admin, "--access-log", accessLog.toString(), file.toString()));
        run.started.get(30, TimeUnit.SECONDS);
        httpGet(new InetSocketAddress(InetAddress.getLoopbackAddress(), vip));
        httpGet(new InetSocketAddress(InetAddress.getLoopbackAddress(), vip));
        String metrics = new AdminClient(AdminAddress.parse(admin)).get("/metrics").body();
        assertThat(metrics).contains("\nnthlb_log_lines_dropped_total{log=\"access\"} 0.0\n")
                .contains("\nnthlb_log_lines_dropped_total{log=\"normal\"} ");

        run.signals.received("SIGTERM");
        assertThat(exit.get(30, TimeUnit.SECONDS)).isZero();
        List<String> lines = Files.readAllLines(accessLog);
        // A line is written as its connection ends, and the two ended on two event loops: in either order.
        assertThat(lines).hasSize(2);
        assertThat(lines).filteredOn(l -> l.contains(" rule=PREROUTING:1 backend=" + Addresses.format(b.address())))
                .singleElement().asString().contains(" end=");
        assertThat(lines).filteredOn(l -> l.contains(" rule=PREROUTING:2 backend=" + Addresses.format(c.address())))
                .singleElement().asString().contains(" end=");
    }

    @Test
    void accessLogIsOffByDefault() throws Exception {
        DemoHttpBackend b = backend("B");
        int vip = FreePort.onLoopback();
        Path file = rules(Demo.rules(vip, b.address().getPort(), b.address().getPort()));
        RunCommand run = new RunCommand();
        run.signals = ShutdownSignals.manual();
        CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> execute(run, "--threads", "1",
                "--admin", "off", file.toString()));
        run.started.get(30, TimeUnit.SECONDS);
        assertThat(LoggerFactory.getLogger(AccessLog.LOGGER).isInfoEnabled()).isFalse();
        run.signals.received("SIGTERM");
        assertThat(exit.get(30, TimeUnit.SECONDS)).isZero();
    }

    @Test
    void anAccessLogThatCannotBeOpenedExitsTwoSayingSo() throws Exception {
        Path file = rules(Demo.rules(FreePort.onLoopback(), 1, 2));
        Path nowhere = dir.resolve("no-such-dir").resolve("access.log");
        assertThat(execute(new RunCommand(), "--access-log", nowhere.toString(), file.toString())).isEqualTo(2);
        assertThat(err.toString()).startsWith("nthlb run: --access-log " + nowhere + ": cannot open it: ");
    }

    @Test
    void helpListsEveryOptionWithItsDefault() {
        StringWriter out = new StringWriter();
        CommandLine cmd = Main.commandLine();
        cmd.setOut(new PrintWriter(out, true));
        assertThat(cmd.execute("run", "--help")).isZero();
        // Whitespace folded: how picocli wraps a description depends on the widest option name.
        assertThat(out.toString().replaceAll("\\s+", " ")).contains("--transport", "default: epoll", "--threads", "--connect-timeout",
                "default: 5s", "--idle-timeout", "default: 5d", "--drain-timeout", "default: 30s", "--bind-any",
                "--admin", "default: 127.0.0.1:9180", "--admin-allow-remote", "--access-log", "default: off");
    }

    /** One HTTP/1.1 GET on a new connection; the body. */
    static String httpGet(InetSocketAddress address) throws IOException {
        try (Socket s = new Socket(address.getAddress(), address.getPort())) {
            s.setSoTimeout(30_000);
            s.getOutputStream().write("GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            String response = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            assertThat(response).startsWith("HTTP/1.1 200 OK\r\n");
            return response.substring(response.indexOf("\r\n\r\n") + 4);
        }
    }
}
