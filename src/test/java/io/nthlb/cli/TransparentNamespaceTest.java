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

    private final NamespaceTrio net = new NamespaceTrio("pp", "backends");

    @AfterEach
    void tearDown() throws Exception {
        net.close();
    }

    static Stream<String> transports() {
        return Stream.of(Transport.EPOLL, Transport.IO_URING).filter(Transport::isAvailable).map(Transport::label);
    }

    @ParameterizedTest
    @MethodSource("transports")
    void backendsSeeTheClientsOwnAddressAndTheNthAlternationHolds(String transport) throws Exception {
        assumeTrue(RunCommandTest.effectiveUid() == 0, "network namespaces need root");
        assumeTrue(net.create(), "ip netns is not available here");
        network();

        Process backend = start(net.backend, "python3", "-c", String.join("\n",
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
        Process nthlb = start(net.front, Paths.get(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "io.nthlb.Main", "run", "--admin", "off",
                "--transparent", "--transport", transport, rules.toString());
        awaitLine(lines(nthlb.getInputStream()), "listening on 10.0.1.200:80", nthlb);

        Process client = start(net.client, "python3", "-c", String.join("\n",
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
        String c = net.client;
        String f = net.front;
        String b = net.backend;
        check("ip", "-n", c, "addr", "add", "10.0.1.10/24", "dev", net.clientLink);
        check("ip", "-n", c, "link", "set", net.clientLink, "up");
        check("ip", "-n", c, "route", "add", "default", "via", "10.0.1.1");
        check("ip", "-n", f, "addr", "add", "10.0.1.1/24", "dev", net.frontToClient);
        check("ip", "-n", f, "addr", "add", "10.0.1.200/32", "dev", net.frontToClient);
        check("ip", "-n", f, "link", "set", net.frontToClient, "up");
        check("ip", "-n", f, "addr", "add", "172.16.1.1/24", "dev", net.frontToBackend);
        check("ip", "-n", f, "link", "set", net.frontToBackend, "up");
        // The recipe: replies from the backends to a client address are delivered to this host's sockets.
        check("ip", "-n", f, "rule", "add", "iif", net.frontToBackend, "lookup", "100");
        check("ip", "-n", f, "route", "add", "local", "10.0.1.0/24", "dev", "lo", "table", "100");
        check("ip", "-n", b, "addr", "add", "172.16.1.201/24", "dev", net.backendLink);
        check("ip", "-n", b, "addr", "add", "172.16.1.202/24", "dev", net.backendLink);
        check("ip", "-n", b, "link", "set", net.backendLink, "up");
        check("ip", "-n", b, "route", "add", "default", "via", "172.16.1.1");
    }

    private Process start(String ns, String... command) throws IOException {
        return net.start(NamespaceTrio.in(ns, command).redirectErrorStream(true));
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
        NamespaceTrio.check(command);
    }
}
