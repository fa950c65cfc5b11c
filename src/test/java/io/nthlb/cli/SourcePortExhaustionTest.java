package io.nthlb.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.nthlb.proxy.Transport;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@code nthlb run} in a network namespace of its own whose ephemeral port range is two ports wide and whose
 * tcp_tw_reuse is off: it warns at start-up, and the third connection to one backend, for which no source port
 * is left (EADDRNOTAVAIL), resets its client at once, ends {@code local-error} and is logged once, naming the
 * remedies. The namespace has only its own loopback and goes away with the process.
 */
class SourcePortExhaustionTest {

    private static final String JAVA = Paths.get(System.getProperty("java.home"), "bin", "java").toString();

    @TempDir
    Path dir;

    private final List<Process> processes = new ArrayList<>();

    @AfterEach
    void stop() throws Exception {
        for (Process p : processes) {
            p.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void withNoSourcePortLeftTheClientIsResetAtOnceAndTheBackendIsNotBlamed(Transport transport) throws Exception {
        assumeTrue(transport.isAvailable(), () -> transport + " unavailable: " + transport.unavailabilityCause());
        assumeTrue(new ProcessBuilder("id", "-u").start().inputReader().readLine().equals("0"),
                "needs root, to make a network namespace");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/unshare")) && Files.isExecutable(Path.of("/usr/bin/nsenter")),
                "needs unshare and nsenter (util-linux)");
        Path rules = dir.resolve("ports.rules");
        // Three VIPs, so that the three clients' own connections do not compete for the two ports.
        StringBuilder text = new StringBuilder();
        for (int vip = 8080; vip <= 8082; vip++) {
            text.append("iptables -t nat -A PREROUTING -d 127.0.0.1 -p tcp --dport ").append(vip)
                    .append(" -j DNAT --to-destination 127.0.0.1:9000\n");
        }
        Files.writeString(rules, text);
        String classPath = System.getProperty("java.class.path");
        Process nthlb = start(dir.resolve("nthlb"), "/usr/bin/unshare", "--net", "sh", "-c",
                "ip link set lo up && echo '40000 40001' > /proc/sys/net/ipv4/ip_local_port_range"
                        + " && echo 0 > /proc/sys/net/ipv4/tcp_tw_reuse"
                        + " && exec \"$0\" -cp \"$1\" io.nthlb.Main run --transport " + transport.label()
                        + " --threads 1 --admin off --access-log - \"$2\"",
                JAVA, classPath, rules.toString());
        RunSigtermTest.awaitLine(dir.resolve("nthlb.err"), "listening on 127.0.0.1:8082");
        String inNamespace = "--net=/proc/" + nthlb.pid() + "/ns/net";
        Process backend = start(dir.resolve("backend"), "/usr/bin/nsenter", inNamespace, JAVA, "-cp", classPath,
                "io.nthlb.testing.HoldingBackend", "9000");
        RunSigtermTest.awaitLine(dir.resolve("backend.out"), "listening on 127.0.0.1:9000");

        Process clients = start(dir.resolve("clients"), "/usr/bin/nsenter", inNamespace, "bash", "-c",
                "exec 3<>/dev/tcp/127.0.0.1/8080 4<>/dev/tcp/127.0.0.1/8081 5<>/dev/tcp/127.0.0.1/8082"
                        + " && read -t 30 -u 5 line; echo \"read: $?\"");
        assertThat(clients.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(Files.readString(dir.resolve("clients.err"))).as("the third client")
                .contains("Connection reset by peer");
        RunSigtermTest.awaitLine(dir.resolve("nthlb.out"), "end=local-error");

        String access = Files.readString(dir.resolve("nthlb.out"));
        assertThat(access.lines().filter(l -> l.contains("end=local-error")))
                .singleElement().asString().contains("vip=127.0.0.1:8082", "backend=127.0.0.1:9000");
        String log = Files.readString(dir.resolve("nthlb.err"));
        assertThat(log).contains("net.ipv4.tcp_tw_reuse = 0 and net.ipv4.ip_local_port_range = 40000 40001")
                .contains("--source ADDR[-ADDR]");
        assertThat(log.lines().filter(l -> l.contains("cannot connect to 127.0.0.1:9000"))).singleElement().asString()
                .contains("no source address and port free toward the backend", "Cannot assign requested address",
                        "net.ipv4.tcp_tw_reuse=1");
        backend.getOutputStream().close();
    }

    private Process start(Path logs, String... command) throws Exception {
        Process p = new ProcessBuilder(command)
                .redirectOutput(new File(logs + ".out"))
                .redirectError(new File(logs + ".err"))
                .start();
        processes.add(0, p); // stopped in reverse: the namespace's own process last
        return p;
    }
}
