package io.nthlb.admin;

import static org.assertj.core.api.Assertions.assertThat;

import io.nthlb.Main;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code nthlb list} and {@code nthlb save} against a running nthlb, after real connections through it. */
class ListAndSaveLiveTest {

    private static final String HEADER =
            " pkts bytes target     prot opt in     out     source               destination         \n";
    private static final String EXACT_HEADER =
            "    pkts      bytes target     prot opt in     out     source               destination         \n";

    @TempDir
    Path dir;
    private EchoBackend a;
    private EchoBackend b;
    private int vip;
    private RunningNthlb nthlb;

    @BeforeEach
    void start() throws IOException {
        a = new EchoBackend("A");
        b = new EchoBackend("B");
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            vip = probe.getLocalPort();
        }
        nthlb = new RunningNthlb(dir, new SeedRules().vip(vip, a.address(), b.address()).text());
    }

    @AfterEach
    void stop() throws IOException {
        nthlb.close();
        a.close();
        b.close();
    }

    @Test
    void afterTenConnectionsListShowsFiveInBothRulesPktsColumn() throws IOException {
        for (int i = 0; i < 10; i++) {
            AdminPlaneTest.exchange(vip, "hello");
        }

        // "hello" out and "A:hello" back: 12 bytes a connection.
        assertThat(run("list")).isEqualTo(""
                + "Chain PREROUTING (policy ACCEPT 0 packets, 0 bytes)\n"
                + HEADER
                + "    5    60 DNAT       tcp  --  *      *       0.0.0.0/0            127.0.0.1            "
                + "tcp dpt:" + vip + " statistic mode nth every 2 to:127.0.0.1:" + a.address().getPort() + "\n"
                + "    5    60 DNAT       tcp  --  *      *       0.0.0.0/0            127.0.0.1            "
                + "tcp dpt:" + vip + " statistic mode nth every 1 to:127.0.0.1:" + b.address().getPort() + "\n"
                + "\n"
                + "Chain INPUT (policy ACCEPT 0 packets, 0 bytes)\n"
                + HEADER
                + "\n"
                + "Chain OUTPUT (policy ACCEPT 0 packets, 0 bytes)\n"
                + HEADER
                + "\n"
                + "Chain POSTROUTING (policy ACCEPT 0 packets, 0 bytes)\n"
                + HEADER);
    }

    @Test
    void aBigTransferIsRoundedPast99999AndExactWithX() throws IOException {
        String big = "x".repeat(200_000);
        assertThat(AdminPlaneTest.exchange(vip, big)).hasSize(200_002);

        String rule1 = "DNAT       tcp  --  *      *       0.0.0.0/0            127.0.0.1            tcp dpt:" + vip
                + " statistic mode nth every 2 to:127.0.0.1:" + a.address().getPort() + "\n";
        String rule2 = "DNAT       tcp  --  *      *       0.0.0.0/0            127.0.0.1            tcp dpt:" + vip
                + " statistic mode nth every 1 to:127.0.0.1:" + b.address().getPort() + "\n";
        assertThat(run("list", "PREROUTING")).isEqualTo(""
                + "Chain PREROUTING (policy ACCEPT 0 packets, 0 bytes)\n"
                + HEADER
                + "    1  400K " + rule1
                + "    0     0 " + rule2);
        assertThat(run("list", "-x", "PREROUTING")).isEqualTo(""
                + "Chain PREROUTING (policy ACCEPT 0 packets, 0 bytes)\n"
                + EXACT_HEADER
                + "       1   400002 " + rule1
                + "       0        0 " + rule2);
    }

    @Test
    void bytesShowWhileTheConnectionIsStillOpen() throws IOException {
        try (Socket open = new Socket(InetAddress.getLoopbackAddress(), vip)) {
            OutputStream out = open.getOutputStream();
            InputStream in = open.getInputStream();
            out.write("x".repeat(1000).getBytes(StandardCharsets.US_ASCII));
            assertThat(in.readNBytes(1002)).hasSize(1002);

            // The relay credits a read batch right after flushing it, so the client may be a hair ahead.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            String listing = run("list", "-x", "PREROUTING");
            while (!listing.contains("       1     2002 DNAT") && System.nanoTime() < deadline) {
                listing = run("list", "-x", "PREROUTING");
            }
            assertThat(listing).contains("       1     2002 DNAT");
        }
    }

    @Test
    void saveWithCPrintsTheRunningTableWithItsCounters() throws IOException {
        for (int i = 0; i < 3; i++) {
            AdminPlaneTest.exchange(vip, "hello");
        }

        List<String> lines = Arrays.asList(run("save", "-c").split("\n"));

        assertThat(lines.get(0)).startsWith("# Generated by nthlb ");
        assertThat(lines.get(lines.size() - 1)).startsWith("# Completed on ");
        assertThat(lines.subList(1, lines.size() - 1)).containsExactly(
                "*nat",
                ":PREROUTING ACCEPT [0:0]",
                ":INPUT ACCEPT [0:0]",
                ":OUTPUT ACCEPT [0:0]",
                ":POSTROUTING ACCEPT [0:0]",
                "[2:24] -A PREROUTING -d 127.0.0.1/32 -p tcp -m tcp --dport " + vip
                        + " -m statistic --mode nth --every 2 --packet 0 -j DNAT --to-destination 127.0.0.1:"
                        + a.address().getPort(),
                "[1:12] -A PREROUTING -d 127.0.0.1/32 -p tcp -m tcp --dport " + vip
                        + " -m statistic --mode nth --every 1 --packet 0 -j DNAT --to-destination 127.0.0.1:"
                        + b.address().getPort(),
                "COMMIT");
        assertThat(run("save")).contains("\n-A PREROUTING -d 127.0.0.1/32").doesNotContain("[2:24]");
    }

    /** Runs {@code nthlb ARGS --admin <this instance>} and returns its standard output; it must exit 0. */
    private String run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = Main.commandLine();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        String[] withAdmin = Arrays.copyOf(args, args.length + 2);
        withAdmin[args.length] = "--admin";
        withAdmin[args.length + 1] = nthlb.adminAddress().authority();
        assertThat(cli.execute(withAdmin)).as("exit status; stderr: %s", err).isZero();
        return out.toString();
    }
}
