package io.nthlb.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.nthlb.proxy.Transport;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code run --transparent} end to end, in network namespaces of this test's own with no link to the host's:
 * the seed's network (client 10.0.1.10, VIP 10.0.1.200 on the front host, backends 172.16.1.201 and .202 whose
 * default gateway is the front host) with the front host's policy routing as docs/client-address.md gives it and
 * no iptables at all. The backends must see the client's own address and port, and the nth alternation hold.
 */
class TransparentNamespaceTest {

    private static final String TAG = "pp" + ProcessHandle.current().pid();
    private static final String CLIENT = "nthlb-" + TAG + "-client";
    private static final String FRONT = "nthlb-" + TAG + "-front";
    private static final String BACKENDS = "nthlb-" + TAG + "-backends";

    private final List<Process> processes = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (Process p : processes) {
            p.destroy();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        }
        for (String ns : List.of(CLIENT, FRONT, BACKENDS)) {
            run(false, "ip", "netns", "del", ns);
        }
    }

    static Stream<String> transports() {
        return Stream.of(Transport.EPOLL, Transport.IO_URING).filter(Transport::isAvailable).map(Transport::label);
    }

    @ParameterizedTest
    @MethodSource("transports")
    void backendsSeeTheClientsOwnAddressAndTheNthAlternationHolds(String transport) throws Exception {
        assumeTrue(RunCommandTest.effectiveUid() == 0, "network namespaces need root");
        assumeTrue(run(false, "ip", "netns", "add", CLIENT), "ip netns is not available here");
        network();

        Process backend = start(BACKENDS, "python3", "-c", String.join("\n",
                "import socket",
                "s = socket.socket()",
                "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)",
                "s.bind(('0.0.0.0', 80))",
                "s.listen(64)",
                "print('ready', flush=True)",
                "while True:",
                "    c, peer = s.accept()",
                "    c.sendall(('%s %s:%d\\n' % (c.getsockname()[0], peer[0], peer[1])).encode())",
                "    c.close()"));
        awaitLine(lines(backend.getInputStream()), "ready", backend);

        Path rules = Paths.get("conf", "seed.rules").toAbsolutePath();
        Process nthlb = start(FRONT, Paths.get(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "io.nthlb.Main", "run", "--admin", "off",
                "--transparent", "--transport", transport, rules.toString());
        awaitLine(lines(nthlb.getInputStream()), "listening on 10.0.1.200:80", nthlb);

        Process client = start(CLIENT, "python3", "-c", String.join("\n",
                "import socket",
                "for i in range(6):",
                "    c = socket.create_connection(('10.0.1.200', 80), timeout=20)",
                "    port = c.getsockname()[1]",
                "    print('%d %s' % (port, c.makefile().readline().strip()), flush=True)",
                "    c.close()"));
        assertThat(client.waitFor(60, TimeUnit.SECONDS)).as("client done").isTrue();
        List<String> answers = new String(client.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines().toList();
        assertThat(client.exitValue()).as("client: %s", answers).isZero();
        assertThat(answers).hasSize(6);
        List<String> reached = new ArrayList<>();
        for (String answer : answers) {
            String[] f = answer.split(" "); // client port, backend address, what the backend saw as its peer
            reached.add(f[1]);
            assertThat(f[2]).as("the backend's peer").isEqualTo("10.0.1.10:" + f[0]);
        }
        assertThat(reached).containsExactly("172.16.1.201", "172.16.1.202", "172.16.1.201", "172.16.1.202",
                "172.16.1.201", "172.16.1.202");
    }

    /** The seed's addresses; the front host's only routing change is the policy rule for the backends' replies. */
    private void network() throws Exception {
        String pc = "c" + TAG;
        String pf = "f" + TAG;
        String qa = "a" + TAG;
        String qb = "b" + TAG;
        check("ip", "netns", "add", FRONT);
        check("ip", "netns", "add", BACKENDS);
        // Each veth is created with both ends already inside namespaces: nothing touches the host's.
        check("ip", "link", "add", pc, "netns", CLIENT, "type", "veth", "peer", "name", pf, "netns", FRONT);
        check("ip", "link", "add", qa, "netns", FRONT, "type", "veth", "peer", "name", qb, "netns", BACKENDS);
        for (String ns : List.of(CLIENT, FRONT, BACKENDS)) {
            check("ip", "-n", ns, "link", "set", "lo", "up");
        }
        check("ip", "-n", CLIENT, "addr", "add", "10.0.1.10/24", "dev", pc);
        check("ip", "-n", CLIENT, "link", "set", pc, "up");
        check("ip", "-n", CLIENT, "route", "add", "default", "via", "10.0.1.1");
        check("ip", "-n", FRONT, "addr", "add", "10.0.1.1/24", "dev", pf);
        check("ip", "-n", FRONT, "addr", "add", "10.0.1.200/32", "dev", pf);
        check("ip", "-n", FRONT, "link", "set", pf, "up");
        check("ip", "-n", FRONT, "addr", "add", "172.16.1.1/24", "dev", qa);
        check("ip", "-n", FRONT, "link", "set", qa, "up");
        // The recipe: replies from the backends to a client address are delivered to this host's sockets.
        check("ip", "-n", FRONT, "rule", "add", "iif", qa, "lookup", "100");
        check("ip", "-n", FRONT, "route", "add", "local", "10.0.1.0/24", "dev", "lo", "table", "100");
        check("ip", "-n", BACKENDS, "addr", "add", "172.16.1.201/24", "dev", qb);
        check("ip", "-n", BACKENDS, "addr", "add", "172.16.1.202/24", "dev", qb);
        check("ip", "-n", BACKENDS, "link", "set", qb, "up");
        check("ip", "-n", BACKENDS, "route", "add", "default", "via", "172.16.1.1");
    }

    private Process start(String ns, String... command) throws IOException {
        List<String> all = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        all.addAll(List.of(command));
        Process p = new ProcessBuilder(all).redirectErrorStream(true).start();
        processes.add(p);
        return p;
    }

    /** The process's output, line by line, read on a thread of its own. */
    private static BlockingQueue<String> lines(java.io.InputStream in) {
        BlockingQueue<String> q = new LinkedBlockingQueue<>();
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    q.add(line);
                }
            } catch (IOException e) {
                // The process ended.
            }
        }, "test-output");
        t.setDaemon(true);
        t.start();
        return q;
    }

    private static void awaitLine(BlockingQueue<String> lines, String wanted, Process p) throws InterruptedException {
        List<String> seen = new ArrayList<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            String line = lines.poll(100, TimeUnit.MILLISECONDS);
            if (line != null) {
                seen.add(line);
                if (line.contains(wanted)) {
                    return;
                }
            } else if (!p.isAlive() && lines.isEmpty()) {
                break;
            }
        }
        throw new AssertionError("no line with \"" + wanted + "\"; output: " + seen);
    }

    private static void check(String... command) throws Exception {
        if (!run(true, command)) {
            throw new AssertionError("failed: " + String.join(" ", command));
        }
    }

    private static boolean run(boolean showErrors, String... command) throws InterruptedException {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            boolean ok = p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
            if (!ok && showErrors) {
                System.err.println(String.join(" ", command) + ": " + out);
            }
            return ok;
        } catch (IOException e) {
            return false;
        }
    }
}
