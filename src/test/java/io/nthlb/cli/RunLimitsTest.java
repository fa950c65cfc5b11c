package io.nthlb.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.nthlb.proxy.Limits;
import io.nthlb.proxy.Transport;
import io.nthlb.testing.Eventually;
import io.nthlb.testing.FreePort;
import io.nthlb.testing.UdpClient;
import io.nthlb.testing.UdpEchoBackend;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@code nthlb run} as its own process under a low descriptor limit ({@code prlimit}), flooded with more
 * clients than that allows: with the default limit it serves what it can and leaves the rest in the backlog,
 * resetting no one; with a limit set too high it runs out of descriptors, and then waits quietly (no busy
 * loop, no log storm), blames no backend, and resumes by itself. The default limits leave room for the
 * listening sockets, and TCP and UDP listeners share the descriptors.
 */
class RunLimitsTest {

    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
    private static final int DESCRIPTORS = 300;
    private static final int CLIENTS = 200;
    private static final Pattern MAX = Pattern.compile("at most (\\d+) connection");
    private static final Pattern ADMIN = Pattern.compile("admin endpoint listening on (http://[^/ ]+/)");

    @TempDir
    Path dir;

    private final List<AutoCloseable> closeAfter = new ArrayList<>();
    private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "test-limits");
        t.setDaemon(true);
        return t;
    });
    private Process nthlb;

    @AfterEach
    void stop() throws Exception {
        if (nthlb != null) {
            nthlb.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        }
        for (AutoCloseable c : closeAfter) {
            c.close();
        }
        threads.shutdownNow();
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void underALowDescriptorLimitClientsBeyondWhatCanBeServedWaitAndNoneIsReset(Transport transport) throws Exception {
        HeldBackend backend = new HeldBackend();
        int vip = start(transport, backend);
        int max = Integer.parseInt(awaitLine(MAX).group(1));
        assertThat(max).as("what 300 descriptors leave room for").isBetween(50, CLIENTS - 1);

        List<Socket> clients = connectAll();
        Eventually.until(() -> backend.accepted.get() >= max, "the backend has " + max + " connections");
        String admin = awaitLine(ADMIN).group(1);
        Eventually.until(() -> metric(admin, "nthlb_downstream_cx_limit_reached_total") >= 1, "a stop at the limit");
        assertThat(backend.accepted.get()).as("connections made to the backend").isEqualTo(max);

        backend.release.countDown();
        List<CompletableFuture<String>> answers = new ArrayList<>();
        for (Socket c : clients) {
            answers.add(CompletableFuture.supplyAsync(() -> echoThenClose(c), threads));
        }
        for (CompletableFuture<String> a : answers) {
            // On a failure, nthlb's log and the access log's lines of connections that did not end cleanly say why.
            assertThat(a.get(60, TimeUnit.SECONDS)).as(() -> "what each client saw; nthlb's log:\n" + quietly(this::stderr)
                    + "\naccess log, connections not ended by a close:\n" + quietly(() -> Files.readString(
                    dir.resolve("stdout.log")).lines().filter(l -> !l.contains("end=closed")).toList()))
                    .isEqualTo("echo");
        }
        assertThat(backend.accepted.get()).isEqualTo(CLIENTS);
        assertThat(metric(admin, "nthlb_downstream_cx_accept_errors_total")).isZero();
        assertThat(metric(admin, "nthlb_upstream_cx_local_fail_total")).isZero();
        assertThat(metric(admin, "nthlb_upstream_cx_connect_fail_total")).isZero();
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void outOfDescriptorsItWaitsQuietlyBlamesNoBackendAndResumesByItself(Transport transport) throws Exception {
        HeldBackend backend = new HeldBackend();
        int vip = start(transport, backend, "--max-connections", "10000");
        String admin = awaitLine(ADMIN).group(1);

        List<Socket> clients = connectAll();
        awaitLine(Pattern.compile("accepting on .* failed|cannot connect to"));

        // A busy loop retrying accept(2) would take a core: measured over two seconds (the process must
        // also stay up for them), the event loops must take well under a third of one.
        long cpuBefore = cpuTicks(nthlb.pid());
        long wallBefore = System.nanoTime();
        try {
            nthlb.onExit().get(2, TimeUnit.SECONDS);
            throw new AssertionError("nthlb exited with " + nthlb.exitValue() + ":\n" + stderr());
        } catch (TimeoutException stillRunning) {
            // As it should.
        }
        double cpuShare = (cpuTicks(nthlb.pid()) - cpuBefore) / 100.0
                / ((System.nanoTime() - wallBefore) / 1e9);
        assertThat(cpuShare).as("CPU the event loops used while out of descriptors, in cores").isLessThan(0.3);

        backend.release.countDown();
        for (Socket c : clients) {
            CompletableFuture.supplyAsync(() -> echoThenClose(c), threads);
        }
        try (Socket late = new Socket(LOOPBACK, vip)) {
            late.setSoTimeout(30_000);
            late.getOutputStream().write('x');
            assertThat(echoThenClose(late)).as("a client after the descriptors freed up").isEqualTo("echo");
        }
        assertThat(metric(admin, "nthlb_downstream_cx_accept_errors_total")
                + metric(admin, "nthlb_upstream_cx_local_fail_total{backend=\"127.0.0.1:" + backend.port()
                + "\",reason=\"descriptors\"}")).as("descriptor failures counted").isPositive();
        assertThat(metric(admin, "nthlb_upstream_cx_connect_fail_total")).as("the backend is not blamed").isZero();
        long warnings = stderr().lines()
                .filter(l -> l.contains(" WARN ") && (l.contains("accepting on") || l.contains("cannot connect"))).count();
        assertThat(warnings).as("warnings about descriptors (one per listener socket and backend at most)")
                .isBetween(1L, 4L);
        assertThat(Files.readString(dir.resolve("stdout.log"))).as("the access log").doesNotContain("end=unreachable")
                .contains("end=closed");
        assertThat(stderr()).contains("--max-connections 10000 is more than the descriptor limit leaves room for");
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void theDefaultLimitLeavesRoomForEveryListeningSocket(Transport transport) throws Exception {
        HeldBackend backend = new HeldBackend();
        closeAfter.add(backend);
        int vip = FreePort.onLoopback();
        // 200 addresses: 400 listening sockets with epoll and io_uring (one per event loop), 200 with NIO, all
        // opened after the data plane starts, and several times what is kept back for the admin endpoint and logs.
        StringBuilder rules = new StringBuilder();
        for (int i = 1; i <= 200; i++) {
            rules.append(rule("127.0.0." + i, "tcp", vip, backend.port()));
        }
        start(transport, 1024, rules.toString());
        int max = Integer.parseInt(awaitLine(MAX).group(1));
        String admin = awaitLine(ADMIN).group(1);

        List<Socket> clients = connect(max);
        Eventually.until(() -> backend.accepted.get() >= max, "the backend has all " + max + " connections");
        assertThat(metric(admin, "nthlb_downstream_cx_accept_errors_total")).as("accepts that ran out of descriptors")
                .isZero();
        assertThat(metric(admin, "nthlb_upstream_cx_local_fail_total")).as("backend sockets that could not be opened")
                .isZero();
        backend.release.countDown();
        for (Socket c : clients) {
            assertThat(echoThenClose(c)).isEqualTo("echo");
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void withTcpAndUdpListenersTheDefaultsShareTheDescriptorsInsteadOfPromisingEachAll(Transport transport)
            throws Exception {
        HeldBackend backend = new HeldBackend();
        closeAfter.add(backend);
        UdpEchoBackend echo = UdpEchoBackend.start("b");
        closeAfter.add(echo);
        int vip = FreePort.onLoopback();
        int udpVip = FreePort.udpOnLoopback();
        int descriptors = 512;
        start(transport, descriptors, rule("127.0.0.1", "tcp", vip, backend.port())
                + rule("127.0.0.1", "udp", udpVip, echo.port()));
        Matcher limits = awaitLine(Pattern.compile("at most (\\d+) connection\\(s\\) at once and (\\d+) UDP flow"));
        int max = Integer.parseInt(limits.group(1));
        int flows = Integer.parseInt(limits.group(2));
        String admin = awaitLine(ADMIN).group(1);

        List<Socket> clients = connect(max);
        Eventually.until(() -> backend.accepted.get() >= max, "the backend has all " + max + " connections");
        InetSocketAddress udp = new InetSocketAddress(LOOPBACK, udpVip);
        for (int i = 0; i < flows; i++) {
            UdpClient client = UdpClient.onLoopback();
            closeAfter.add(client);
            assertThat(client.exchange(udp, "x" + i).text()).as("the answer to flow " + i + " of " + flows)
                    .isEqualTo("b:x" + i);
        }
        long open;
        try (Stream<Path> fds = Files.list(Path.of("/proc/" + nthlb.pid() + "/fd"))) {
            open = fds.count();
        }
        assertThat(open + Limits.ADMIN_CONNECTIONS).as("descriptors open with every connection and flow taken, and"
                + " the admin endpoint's clients").isLessThanOrEqualTo(descriptors);
        assertThat(metric(admin, "nthlb_downstream_cx_accept_errors_total")).isZero();
        assertThat(metric(admin, "nthlb_upstream_cx_local_fail_total")).isZero();
        assertThat(metric(admin, "nthlb_udp_flows_dropped_table_full_total")).isZero();
        backend.release.countDown();
        for (Socket c : clients) {
            assertThat(echoThenClose(c)).isEqualTo("echo");
        }
    }

    /** Starts nthlb under the descriptor limit and returns the port it listens on for {@code backend}. */
    private int start(Transport transport, HeldBackend backend, String... extra) throws Exception {
        closeAfter.add(backend);
        int vip = FreePort.onLoopback();
        start(transport, DESCRIPTORS, rule("127.0.0.1", "tcp", vip, backend.port()), extra);
        awaitLine(Pattern.compile("listening on 127\\.0\\.0\\.1:" + vip));
        return vip;
    }

    /** One DNAT rule from {@code address:port} to {@code backendPort} on 127.0.0.1. */
    private static String rule(String address, String protocol, int port, int backendPort) {
        return "iptables -t nat -A PREROUTING -d " + address + " -p " + protocol + " --dport " + port
                + " -j DNAT --to-destination 127.0.0.1:" + backendPort + "\n";
    }

    /** Starts nthlb with {@code rules} under a limit of {@code descriptors}; returns once it said its limits. */
    private void start(Transport transport, int descriptors, String rulesText, String... extra) throws Exception {
        assumeTrue(transport.isAvailable(), () -> transport + " unavailable: " + transport.unavailabilityCause());
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/prlimit")), "needs prlimit (util-linux)");
        Path rules = dir.resolve("limits.rules");
        Files.writeString(rules, rulesText);
        String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of("/usr/bin/prlimit", "--nofile=" + descriptors + ":" + descriptors,
                java, "-Xmx128m", "-cp", classPathOfJars(), "io.nthlb.Main", "run",
                "--transport", transport.label(), "--threads", "2", "--admin", "127.0.0.1:0", "--access-log", "-"));
        command.addAll(List.of(extra));
        command.add(rules.toString());
        nthlb = new ProcessBuilder(command)
                .redirectOutput(dir.resolve("stdout.log").toFile())
                .redirectError(dir.resolve("stderr.log").toFile())
                .start();
        awaitLine(MAX);
    }

    /**
     * The test's class path with each directory (target/classes) packed into a jar, as nthlb runs from its jar:
     * out of descriptors, a JVM cannot open a class file it has not loaded yet, while a jar stays open.
     */
    private String classPathOfJars() throws IOException {
        List<String> entries = new ArrayList<>();
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            Path p = Path.of(entry);
            if (!Files.isDirectory(p)) {
                entries.add(entry);
                continue;
            }
            Path jar = dir.resolve("classes-" + entries.size() + ".jar");
            try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar));
                 Stream<Path> files = Files.walk(p)) {
                for (Path f : (Iterable<Path>) files.filter(Files::isRegularFile)::iterator) {
                    out.putNextEntry(new JarEntry(p.relativize(f).toString()));
                    Files.copy(f, out);
                    out.closeEntry();
                }
            }
            entries.add(jar.toString());
        }
        return String.join(File.pathSeparator, entries);
    }

    /** Opens {@link #CLIENTS} connections and sends one byte on each; the kernel completes every handshake. */
    private List<Socket> connectAll() throws IOException {
        return connect(CLIENTS);
    }

    /** Opens {@code n} connections to the first listener and sends one byte on each. */
    private List<Socket> connect(int n) throws IOException {
        List<Socket> clients = new ArrayList<>();
        int vip = Integer.parseInt(awaitLineNow("listening on 127\\.0\\.0\\.1:(\\d+)"));
        for (int i = 0; i < n; i++) {
            Socket s = new Socket(LOOPBACK, vip);
            closeAfter.add(s);
            s.setSoTimeout(60_000);
            s.getOutputStream().write('x');
            clients.add(s);
        }
        return clients;
    }

    /** Reads the echo of the byte sent, then closes: "echo", or "reset" when the connection was reset. */
    private static String echoThenClose(Socket s) {
        try (s) {
            InputStream in = s.getInputStream();
            return in.read() == 'x' ? "echo" : "closed";
        } catch (SocketException e) {
            return "reset";
        } catch (IOException e) {
            return e.toString();
        }
    }

    /**
     * A backend that accepts everything and echoes the first byte of each connection only once
     * {@link #release} is counted down, so the connections nthlb makes stay open until then.
     */
    private final class HeldBackend implements AutoCloseable {
        final ServerSocket server = new ServerSocket(0, 4096, LOOPBACK);
        final AtomicInteger accepted = new AtomicInteger();
        final CountDownLatch release = new CountDownLatch(1);

        HeldBackend() throws IOException {
            threads.execute(() -> {
                while (!server.isClosed()) {
                    try {
                        Socket s = server.accept();
                        accepted.incrementAndGet();
                        threads.execute(() -> hold(s));
                    } catch (IOException e) {
                        return;
                    }
                }
            });
        }

        private void hold(Socket s) {
            try (s) {
                int b = s.getInputStream().read();
                release.await();
                s.getOutputStream().write(b);
                s.getInputStream().read(); // until the client closes
            } catch (IOException | InterruptedException e) {
                // The client side of the test sees what came of it.
            }
        }

        int port() {
            return server.getLocalPort();
        }

        @Override
        public void close() throws IOException {
            release.countDown();
            server.close();
        }
    }

    /** What {@code read} gives, or why it could not, for a failure's description. */
    private static String quietly(Eventually.Probe<Object> read) {
        try {
            return String.valueOf(read.get());
        } catch (Exception e) {
            return e.toString();
        }
    }

    private String stderr() throws IOException {
        return Files.readString(dir.resolve("stderr.log"));
    }

    /** The first match of {@code pattern} in nthlb's standard error, waiting up to 30 s for it. */
    private Matcher awaitLine(Pattern pattern) throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            Matcher m = pattern.matcher(stderr());
            if (m.find()) {
                return m;
            }
            if (System.nanoTime() > end || !nthlb.isAlive()) {
                throw new AssertionError("nthlb never said /" + pattern + "/; it said:\n" + stderr());
            }
            TimeUnit.MILLISECONDS.sleep(20);
        }
    }

    private String awaitLineNow(String regex) throws IOException {
        Matcher m = Pattern.compile(regex).matcher(stderr());
        assertThat(m.find()).isTrue();
        return m.group(1);
    }

    /** The sum of every sample of {@code name} (a bare name, or a name with its labels) on /metrics. */
    private static double metric(String admin, String name) throws Exception {
        HttpResponse<String> response = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create(admin + "metrics")).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString());
        double sum = 0;
        for (String line : response.body().split("\n")) {
            if (line.startsWith(name + " ") || (!name.contains("{") && line.startsWith(name + "{"))) {
                sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return sum;
    }

    /** User plus system CPU time of the event loops (threads named nthlb-...) of process {@code pid}, in ticks. */
    private static long cpuTicks(long pid) throws IOException {
        long ticks = 0;
        try (Stream<Path> tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
            for (Path task : (Iterable<Path>) tasks::iterator) {
                String stat;
                try {
                    stat = Files.readString(task.resolve("stat"));
                } catch (IOException gone) {
                    continue; // the thread ended meanwhile
                }
                String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
                if (name.startsWith("nthlb-")) {
                    String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                    ticks += Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
                }
            }
        }
        return ticks;
    }
}
