package io.nthlb.cli;

import io.nthlb.log.AccessLog;
import io.nthlb.proxy.ListenException;
import io.nthlb.proxy.ProxyOptions;
import io.nthlb.proxy.UnavailableTransportException;
import java.io.IOException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code nthlb demo}: two HTTP backends and nthlb alternating connections over them, on loopback. */
@Command(name = "demo", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Start two small HTTP backends (B on 127.0.0.1:8081, C on 127.0.0.1:8082) and nthlb on"
                + " 127.0.0.1:8080 balancing over them with the seed's two rules; print the rules and a curl line"
                + " to try, and run until Ctrl-C."},
        exitCodeListHeading = "%nExit status:%n",
        exitCodeList = {"0:stopped by Ctrl-C (SIGINT) or SIGTERM", "2:a port could not be listened on"})
public final class DemoCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--port", paramLabel = "PORT", defaultValue = "8080",
            description = "the port nthlb listens on (default: ${DEFAULT-VALUE}; 0 for any free port)")
    int port;

    @Option(names = "--backend-b-port", paramLabel = "PORT", defaultValue = "8081",
            description = "backend B's port (default: ${DEFAULT-VALUE}; 0 for any free port)")
    int bPort;

    @Option(names = "--backend-c-port", paramLabel = "PORT", defaultValue = "8082",
            description = "backend C's port (default: ${DEFAULT-VALUE}; 0 for any free port)")
    int cPort;

    @Mixin
    RunCommand.DataPlaneOptions dataPlane = new RunCommand.DataPlaneOptions();

    @Override
    public Integer call() throws IOException, InterruptedException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        ProxyOptions options;
        try {
            options = dataPlane.toProxyOptions();
        } catch (UnavailableTransportException | IllegalArgumentException e) {
            err.println("nthlb demo: " + e.getMessage());
            err.flush();
            return 2;
        }
        ShutdownSignals signals = ShutdownSignals.install();
        // The demo is for seeing where connections go, so its access log is on, to standard output.
        try (AccessLog accessLog = AccessLog.open(AccessLog.STDOUT)) {
            Demo demo;
            try {
                demo = Demo.start(port, bPort, cPort, options);
            } catch (ListenException e) {
                err.println("nthlb demo: " + e.getMessage() + " (choose other ports with --port, --backend-b-port,"
                        + " --backend-c-port)");
                err.flush();
                return 2;
            }
            out.print(demo.banner());
            out.flush();
            signals.await();
            demo.drain(Duration.ofSeconds(2));
            return 0;
        }
    }
}
