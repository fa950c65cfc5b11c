package io.nthlb.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.nthlb.Main;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.nthlb.testing.FreePort;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
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

/** {@code nthlb run} with its admin endpoint, driven by {@code list} and {@code reload} as a user would. */
class RunAdminTest {

    @TempDir
    Path dir;
    private EventLoopGroup backendLoop;
    private DemoHttpBackend b;
    private DemoHttpBackend c;

    @BeforeEach
    void startBackends() {
        backendLoop = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        b = DemoHttpBackend.start("B", new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), backendLoop);
        c = DemoHttpBackend.start("C", new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), backendLoop);
    }

    @AfterEach
    void stopBackends() throws Exception {
        b.close();
        c.close();
        backendLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }

    @Test
    void listShowsFiveInBothRulesAfterTenConnectionsAndAReloadStartsThemOver() throws Exception {
        String[] lists = tenConnectionsThenReload();
        assertThat(lists[0].lines().skip(2)).hasSize(2).allMatch(line -> line.startsWith("    5 "));
        assertThat(lists[1].lines().skip(2)).as("as after iptables-restore").hasSize(2)
                .allMatch(line -> line.startsWith("    0     0 "));
    }

    @Test
    void withReloadKeepsCountersAReloadKeepsThem() throws Exception {
        String[] lists = tenConnectionsThenReload("--reload-keeps-counters");
        assertThat(lists[0].lines().skip(2)).hasSize(2).allMatch(line -> line.startsWith("    5 "));
        assertThat(lists[1]).isEqualTo(lists[0]);
    }

    /** Runs the seed's rules, makes ten connections, reloads: {@code list PREROUTING} before and after. */
    private String[] tenConnectionsThenReload(String... options) throws Exception {
        int vip = FreePort.onLoopback();
        String admin = "127.0.0.1:" + FreePort.onLoopback();
        Path file = dir.resolve("seed.rules");
        Files.writeString(file, Demo.rules(vip, b.address().getPort(), c.address().getPort()));
        RunCommand run = new RunCommand();
        run.signals = ShutdownSignals.manual();
        List<String> args = new ArrayList<>(List.of("--threads", "2", "--admin", admin));
        args.addAll(List.of(options));
        args.add(file.toString());
        CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(
                () -> new CommandLine(run).execute(args.toArray(String[]::new)));
        run.started.get(30, TimeUnit.SECONDS);

        for (int i = 0; i < 10; i++) {
            RunCommandTest.httpGet(new InetSocketAddress(InetAddress.getLoopbackAddress(), vip));
        }
        String before = cli("list", "--admin", admin, "PREROUTING");
        assertThat(cli("reload", "--admin", admin)).isEqualTo("reloaded " + file + ": 2 rules\n");
        String after = cli("list", "--admin", admin, "PREROUTING");

        run.signals.received("SIGTERM");
        assertThat(exit.get(30, TimeUnit.SECONDS)).isZero();
        return new String[] {before, after};
    }

    @Test
    void aTakenAdminPortExitsTwoSayingSo() throws Exception {
        int vip = FreePort.onLoopback();
        Path file = dir.resolve("seed.rules");
        Files.writeString(file, Demo.rules(vip, b.address().getPort(), c.address().getPort()));
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            StringWriter err = new StringWriter();
            RunCommand run = new RunCommand();
            run.signals = ShutdownSignals.manual();
            CommandLine cmd = new CommandLine(run);
            cmd.setErr(new PrintWriter(err, true));

            assertThat(cmd.execute("--admin", "127.0.0.1:" + taken.getLocalPort(), file.toString())).isEqualTo(2);
            assertThat(err.toString()).startsWith("nthlb run: cannot listen on 127.0.0.1:" + taken.getLocalPort()
                    + " for the admin endpoint");
        }
        // The data plane it had opened is closed again: the VIP port is free.
        try (ServerSocket again = new ServerSocket(vip, 1, InetAddress.getLoopbackAddress())) {
            assertThat(again.getLocalPort()).isEqualTo(vip);
        }
    }

    /** Runs an nthlb command, which must exit 0, and returns what it printed. */
    private static String cli(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cmd = Main.commandLine();
        cmd.setOut(new PrintWriter(out, true));
        cmd.setErr(new PrintWriter(err, true));
        assertThat(cmd.execute(args)).as("exit status; stderr: %s", err).isZero();
        return out.toString();
    }
}
