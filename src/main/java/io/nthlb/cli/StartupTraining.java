package io.nthlb.cli;

import io.nthlb.Main;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.Writer;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import picocli.CommandLine;

/**
 * What the launcher runs once, under {@code -XX:ArchiveClassesAtExit}, to record the class-data-sharing
 * archive that makes later starts fast: {@code check}, {@code simulate}, and {@code run} up to its listeners
 * and one connection relayed both ways, all on loopback. Not a user command.
 */
public final class StartupTraining {

    private static final int DEADLINE_SECONDS = 30;

    private StartupTraining() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("nthlb-training");
        InetAddress loopback = InetAddress.getLoopbackAddress();
        try (ServerSocket backend = new ServerSocket(0, 16, loopback)) {
            int vip;
            try (ServerSocket probe = new ServerSocket(0, 1, loopback)) {
                vip = probe.getLocalPort();
            }
            Path rules = dir.resolve("training.rules");
            String rule = "iptables -t nat -A PREROUTING -d 127.0.0.1 -p tcp --dport " + vip
                    + " -m statistic --mode nth --every %d --packet 0 -j DNAT --to-destination 127.0.0.1:"
                    + backend.getLocalPort() + "\n";
            Files.writeString(rules, String.format(rule, 2) + String.format(rule, 1));

            PrintWriter discard = new PrintWriter(Writer.nullWriter());
            CommandLine cli = Main.commandLine();
            cli.setOut(discard);
            cli.setErr(discard);
            cli.execute("check", rules.toString());
            cli.execute("simulate", rules.toString(), "--dst", "127.0.0.1:" + vip, "-n", "2");

            RunCommand run = new RunCommand();
            run.signals = ShutdownSignals.manual();
            CommandLine runCli = new CommandLine(run);
            runCli.setErr(discard);
            Thread serving = new Thread(() -> runCli.execute("--admin", "127.0.0.1:0", rules.toString()), "training");
            serving.start();
            run.started.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
            relayOnce(loopback, vip, backend);
            run.signals.received("SIGTERM");
            serving.join(TimeUnit.SECONDS.toMillis(DEADLINE_SECONDS));
        } finally {
            Files.deleteIfExists(dir.resolve("training.rules"));
            Files.delete(dir);
        }
        // The archive is written at exit; the event loops' quiet period has nothing left to record.
        System.exit(0);
    }

    /** One connection through nthlb: a byte each way, then a half-close from each side. */
    private static void relayOnce(InetAddress loopback, int vip, ServerSocket backend)
            throws IOException, InterruptedException, ExecutionException, TimeoutException {
        try (Socket client = new Socket(loopback, vip)) {
            client.setSoTimeout(DEADLINE_SECONDS * 1000);
            backend.setSoTimeout(DEADLINE_SECONDS * 1000);
            try (Socket server = backend.accept()) {
                server.setSoTimeout(DEADLINE_SECONDS * 1000);
                OutputStream toBackend = client.getOutputStream();
                InputStream atBackend = server.getInputStream();
                toBackend.write('q');
                atBackend.read();
                server.getOutputStream().write('a');
                client.getInputStream().read();
                client.shutdownOutput();
                atBackend.read();
                server.shutdownOutput();
                client.getInputStream().read();
            }
        }
    }
}
