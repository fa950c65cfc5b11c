package io.nthlb.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.nthlb.testing.Eventually;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 17's churn in network namespaces of this test's own (client 10.0.1.10 → nthlb on 10.0.1.200 → backend
 * 172.16.1.201, over veth pairs, no route anywhere else): short connections that the client closes first, so
 * nthlb closes its backend connection first and that socket holds its source port in TIME_WAIT. In the front
 * namespace's default sysctls nthlb warns once, naming tcp_tw_reuse; with the port range narrowed there, the
 * churn runs out of source ports within seconds, and every client that could not be served is reset at once,
 * counted and logged (a bounded number of lines); with tcp_tw_reuse=1 (the documented remedy) the same churn at
 * the same range holds its rate with no failure; so does the other remedy, two --source addresses. Sysctls are
 * per network namespace: the host's are not touched.
 */
class ChurnNamespaceTest {

    private static final String JAVA = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
    private static final String BACKEND_ADDRESS = "172.16.1.201:80";

    /*
     * Sizing. Without reuse, a source port toward the backend is taken for the 60 s of TIME_WAIT, so PORTS ports
     * serve exactly PORTS connections, and the churn of EXHAUST connections must fail EXHAUST - PORTS of them. With
     * tcp_tw_reuse=1 the kernel reuses a port once its TIME_WAIT socket last heard from the backend in an earlier
     * second (1 to 2 s old), so at RATE connections a second at most about 2 * RATE ports are not yet reusable:
     * 300 of 600, the other half a margin for a loaded machine. The client never catches up in bursts (behind
     * schedule, it slows down) and has at most 16 connections in flight, so it cannot go above RATE. HOLD is three
     * times the range: without reuse all but the first PORTS would fail. SPREAD, through two --source addresses
     * with tw_reuse back at its default, needs more than one range and less than two. About 27 s of churn in all.
     */
    private static final int PORTS_FROM = 40000;
    private static final int PORTS = 600;
    private static final int RATE = 150;
    private static final int EXHAUST = 900;
    private static final int HOLD = 3 * PORTS;
    private static final int SPREAD = 2 * PORTS - 100;

    @TempDir
    Path dir;

    private final NamespaceTrio net = new NamespaceTrio("churn", "backend");

    @AfterEach
    void tearDown() throws Exception {
        net.close();
    }

    @Test
    void churnWarnsAtDefaultSysctlsRunsOutOfSourcePortsLoudlyAndHoldsWithTcpTwReuse() throws Exception {
        assumeTrue(RunCommandTest.effectiveUid() == 0, "network namespaces need root");
        assumeTrue(net.create(), "ip netns is not available here");
        network();
        assertThat(sysctl("net.ipv4.tcp_tw_reuse")).as("a new namespace's default").isEqualTo("2");
        assertThat(sysctl("net.ipv4.ip_local_port_range")).as("a new namespace's default").isEqualTo("32768 60999");

        String classPath = System.getProperty("java.class.path");
        start(net.backend, "backend", JAVA, "-cp", classPath, "io.nthlb.testing.ChurnLoad", "backend", "80");
        RunSigtermTest.awaitLine(dir.resolve("backend.out"), "listening on port 80");
        Path rules = dir.resolve("churn.rules");
        Files.writeString(rules, "iptables -t nat -A PREROUTING -d 10.0.1.200 -p tcp --dport 80"
                + " -j DNAT --to-destination " + BACKEND_ADDRESS + "\n");
        Process nthlb = start(net.front, "nthlb", JAVA, "-cp", classPath, "io.nthlb.Main", "run", "--admin", "127.0.0.1:9180",
                "--access-log", "-", rules.toString());
        RunSigtermTest.awaitLine(dir.resolve("nthlb.err"), "admin endpoint listening on");

        // At the defaults (tw_reuse 2 reuses ports toward loopback only), one warning names the sysctl.
        List<String> warnings = log().lines().filter(l -> l.contains(" WARN ") && l.contains("tcp_tw_reuse")).toList();
        assertThat(warnings).as("start-up warnings naming tcp_tw_reuse").singleElement().asString()
                .contains("net.ipv4.tcp_tw_reuse = 2 (loopback only)", "sysctl -w net.ipv4.tcp_tw_reuse=1",
                        "--source ADDR[-ADDR]");

        // Exhaustion: the narrowed range, tw_reuse still at its default.
        setSysctl("net.ipv4.ip_local_port_range", PORTS_FROM + " " + (PORTS_FROM + PORTS - 1));
        Map<String, String> exhausted = churn("exhaust", EXHAUST);
        long ok = Long.parseLong(exhausted.get("ok"));
        long failed = Long.parseLong(exhausted.get("failed"));
        assertThat(ok).as("connections served: one per source port (%s)", exhausted.get("line")).isBetween(PORTS - 10L, (long) PORTS);
        assertThat(failed).as("connections that found no source port").isEqualTo(EXHAUST - ok);
        assertThat(Long.parseLong(exhausted.get("reset"))).as("of which reset (%s)", exhausted.get("line")).isEqualTo(failed);
        assertThat(Long.parseLong(exhausted.get("maxFailMillis"))).as("ms the slowest failed client waited for its reset")
                .isLessThan(3000);
        assertThat(timeWaitTowardBackend()).as("nthlb's backend-side sockets in TIME_WAIT").isGreaterThanOrEqualTo(ok);
        assertThat(sourcePortFailures()).as("nthlb_upstream_cx_local_fail_total{reason=\"source-ports\"}")
                .isEqualTo(failed);
        // The access log is written on a thread of its own: its last lines may trail the client's end.
        assertThat(Eventually.await(() -> Files.readString(dir.resolve("nthlb.out")).lines()
                .filter(l -> l.contains("end=local-error")).count(), n -> n == failed))
                .as("access-log lines ending local-error").isEqualTo(failed);
        RunSigtermTest.awaitLine(dir.resolve("nthlb.err"), "cannot connect to " + BACKEND_ADDRESS);
        List<String> logged = log().lines().filter(l -> l.contains("cannot connect to " + BACKEND_ADDRESS)).toList();
        // At most one line per backend every 10 s: the failures took a few seconds.
        assertThat(logged).as("log lines about the failures").hasSizeBetween(1, 2);
        assertThat(logged.get(0)).contains("no source address and port free toward the backend",
                "Cannot assign requested address", "net.ipv4.tcp_tw_reuse=1");

        // The remedy, in the same range, with the exhaustion's TIME_WAIT sockets still there.
        setSysctl("net.ipv4.tcp_tw_reuse", "1");
        Map<String, String> held = churn("hold", HOLD);
        assertThat(held.get("failed")).as("connections failed with tcp_tw_reuse=1 (%s)", held.get("line")).isEqualTo("0");
        assertThat(Long.parseLong(held.get("ok"))).isEqualTo(HOLD);
        assertThat(Double.parseDouble(held.get("rate"))).as("connections a second (%s)", held.get("line"))
                .isGreaterThan(RATE / 2.0);
        assertThat(sourcePortFailures()).as("no more source-port failures").isEqualTo(failed);

        // The other remedy, tw_reuse back at its default: two more front addresses to connect from. Each has the
        // whole range toward the backend, while every port of 172.16.1.1 is still held in TIME_WAIT.
        nthlb.destroy();
        assertThat(nthlb.waitFor(30, TimeUnit.SECONDS)).as("the first nthlb stopped").isTrue();
        setSysctl("net.ipv4.tcp_tw_reuse", "2");
        check("ip", "-n", net.front, "addr", "add", "172.16.1.2/24", "dev", net.frontToBackend);
        check("ip", "-n", net.front, "addr", "add", "172.16.1.3/24", "dev", net.frontToBackend);
        start(net.front, "nthlb-source", JAVA, "-cp", classPath, "io.nthlb.Main", "run", "--admin", "127.0.0.1:9180",
                "--source", "172.16.1.2-172.16.1.3", rules.toString());
        RunSigtermTest.awaitLine(dir.resolve("nthlb-source.err"), "admin endpoint listening on");
        Map<String, String> spread = churn("spread", SPREAD);
        assertThat(spread.get("failed")).as("connections failed with two --source addresses (%s)", spread.get("line"))
                .isEqualTo("0");
        assertThat(sourcePortFailures()).as("source-port failures of the second nthlb").isZero();
        for (String source : List.of("172.16.1.2", "172.16.1.3")) {
            assertThat(check("ip", "netns", "exec", net.front, "ss", "-Htn", "state", "time-wait", "src", source)
                    .lines().count()).as("TIME_WAIT sockets from %s", source).isGreaterThan(SPREAD / 2 - 50);
        }
    }

    /** Runs the client in its namespace: {@code count} connections at {@link #RATE}; its result line as a map. */
    private Map<String, String> churn(String name, int count) throws Exception {
        Process client = start(net.client, name, JAVA, "-cp", System.getProperty("java.class.path"),
                "io.nthlb.testing.ChurnLoad", "client", "10.0.1.200", "80", String.valueOf(count), String.valueOf(RATE));
        assertThat(client.waitFor(90, TimeUnit.SECONDS)).as("the %s churn finished", name).isTrue();
        String out = Files.readString(dir.resolve(name + ".out")).trim();
        System.out.println("churn " + name + ": " + out);
        assertThat(out).as("the client's result; its errors: %s", Files.readString(dir.resolve(name + ".err")))
                .startsWith("ok=");
        Map<String, String> result = new HashMap<>();
        // "ok=N failed=N ... failures={...}": the failures' descriptions, last, may hold anything.
        for (String field : out.substring(0, out.indexOf(" failures=")).split(" ")) {
            int eq = field.indexOf('=');
            if (eq > 0) {
                result.put(field.substring(0, eq), field.substring(eq + 1));
            }
        }
        result.put("line", out);
        return result;
    }

    /** The seed's addressing, minus the second backend; nothing is routed beyond the two links. */
    private void network() throws Exception {
        check("ip", "-n", net.client, "addr", "add", "10.0.1.10/24", "dev", net.clientLink);
        check("ip", "-n", net.client, "link", "set", net.clientLink, "up");
        check("ip", "-n", net.front, "addr", "add", "10.0.1.200/24", "dev", net.frontToClient);
        check("ip", "-n", net.front, "link", "set", net.frontToClient, "up");
        check("ip", "-n", net.front, "addr", "add", "172.16.1.1/24", "dev", net.frontToBackend);
        check("ip", "-n", net.front, "link", "set", net.frontToBackend, "up");
        check("ip", "-n", net.backend, "addr", "add", "172.16.1.201/24", "dev", net.backendLink);
        check("ip", "-n", net.backend, "link", "set", net.backendLink, "up");
    }

    /** A sysctl of the front namespace, read from its /proc/sys (procps's sysctl may not be installed). */
    private String sysctl(String name) throws Exception {
        return check("ip", "netns", "exec", net.front, "cat", procSys(name)).trim().replaceAll("\\s+", " ");
    }

    private void setSysctl(String name, String value) throws Exception {
        check("ip", "netns", "exec", net.front, "sh", "-c", "echo \"$0\" > \"$1\"", value, procSys(name));
        assertThat(sysctl(name)).isEqualTo(value);
    }

    private static String procSys(String name) {
        return "/proc/sys/" + name.replace('.', '/');
    }

    /** nthlb's sockets in TIME_WAIT toward the backend, in the front namespace. */
    private long timeWaitTowardBackend() throws Exception {
        return check("ip", "netns", "exec", net.front, "ss", "-Htn", "state", "time-wait", "dst", "172.16.1.201")
                .lines().filter(l -> !l.isBlank()).count();
    }

    /** The source-port failures nthlb's /metrics counts toward the backend, asked inside the front namespace. */
    private long sourcePortFailures() throws Exception {
        String metrics = check("ip", "netns", "exec", net.front, "bash", "-c",
                "exec 3<>/dev/tcp/127.0.0.1/9180 && printf 'GET /metrics HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3");
        String series = "nthlb_upstream_cx_local_fail_total{backend=\"" + BACKEND_ADDRESS + "\",reason=\"source-ports\"} ";
        return metrics.lines().filter(l -> l.startsWith(series))
                .mapToLong(l -> (long) Double.parseDouble(l.substring(series.length()))).sum();
    }

    private String log() throws IOException {
        return Files.readString(dir.resolve("nthlb.err"));
    }

    /** Starts {@code command} in namespace {@code ns}, its output in NAME.out and NAME.err. */
    private Process start(String ns, String name, String... command) throws IOException {
        return net.start(NamespaceTrio.in(ns, command)
                .redirectOutput(new File(dir.toFile(), name + ".out"))
                .redirectError(new File(dir.toFile(), name + ".err")));
    }

    private static String check(String... command) throws Exception {
        return NamespaceTrio.check(command);
    }
}
