package io.nthlb.cli;

import io.nthlb.nat.Decision;
import io.nthlb.nat.HostNetwork;
import io.nthlb.nat.NatTable;
import io.nthlb.rules.LoadResult;
import io.nthlb.rules.RulesFile;
import io.nthlb.nat.RandomSource;
import io.nthlb.rules.Ruleset;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code nthlb simulate}: walks new connections through a fresh table built from a rules file and prints
 * where each one goes, without opening a socket.
 */
@Command(name = "simulate", mixinStandardHelpOptions = true,
        description = "Send N new connections through the rules, as the kernel would, and print where each goes:"
                + " the backend's IP:PORT, or the policy (ACCEPT) when no rule NATs it.",
        exitCodeListHeading = "%nExit status:%n",
        exitCodeList = {"0:simulated", "2:bad arguments, or a rules file with errors (printed as FILE:LINE: message)"})
public final class SimulateCommand implements Callable<Integer> {

    /** The client address when {@code --src} is absent: 192.0.2.1, from the TEST-NET-1 documentation block. */
    static final String DEFAULT_SOURCE_ADDRESS = "192.0.2.1";
    /** The first source port when {@code --src} gives none: the start of Linux's ephemeral port range. */
    static final int DEFAULT_SOURCE_PORT = 32768;
    /** The last port of Linux's default ephemeral range ({@code net.ipv4.ip_local_port_range}). */
    static final int LAST_EPHEMERAL_PORT = 60999;

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE", description = "The rules: iptables -t nat commands or an iptables-save file.")
    Path file;

    @Option(names = "--dst", required = true, paramLabel = "IP:PORT", converter = Endpoint.Converter.class,
            description = "Where the clients connect: the address and port they ask for.")
    Endpoint destination;

    @Option(names = "--src", paramLabel = "IP[:PORT]", converter = Endpoint.Converter.class,
            description = "The client. Default: " + DEFAULT_SOURCE_ADDRESS + ":" + DEFAULT_SOURCE_PORT
                    + "; the source port goes up by one per connection, as a real client's would.")
    Endpoint source;

    @Option(names = "-n", paramLabel = "N", defaultValue = "1", description = "How many connections (default: ${DEFAULT-VALUE}).")
    int connections;

    @Option(names = "--in-interface", paramLabel = "NAME",
            description = "The interface the connections arrive on, for -i. Default: one that no rule names.")
    String inInterface;

    @Option(names = "--dst-not-local",
            description = "--dst is not one of this host's addresses (for -m addrtype --dst-type). Default: it is.")
    boolean destinationNotLocal;

    @Option(names = "--seed", paramLabel = "S",
            description = "Seed for -m statistic --mode random and DNAT --random, for a reproducible run.")
    Long seed;

    @Override
    public Integer call() {
        if (connections < 0) {
            throw new CommandLine.ParameterException(spec.commandLine(), "-n: " + connections + " (expected: >= 0)");
        }
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        LoadResult loaded = RulesFile.load(file);
        loaded.warnings().forEach(err::println);
        loaded.errors().forEach(err::println);
        err.flush();
        if (!loaded.ok()) {
            return 2;
        }
        NatTable table;
        try {
            table = NatTable.compile(loaded.ruleset(), null,
                    seed == null ? RandomSource.threadLocal() : RandomSource.seeded(seed));
        } catch (IllegalArgumentException e) {
            err.println(file + ": " + e.getMessage());
            err.flush();
            return 2;
        }
        Endpoint client = source != null ? source : Endpoint.parse(DEFAULT_SOURCE_ADDRESS);
        int firstPort = client.port() >= 0 ? client.port() : DEFAULT_SOURCE_PORT;
        HostNetwork network = HostNetwork.simulated(inInterface == null ? "" : inInterface, destination.address(),
                !destinationNotLocal);
        for (String line : simulate(table, network, client.address(), firstPort, destination, connections)) {
            out.println(line);
        }
        out.flush();
        return 0;
    }

    /**
     * One line per connection: {@code ip:port} it is sent to, or the policy word. The source port starts at
     * {@code firstPort} and goes up by one per connection, wrapping to the start of the ephemeral range.
     */
    static List<String> simulate(NatTable table, HostNetwork network, int clientIp, int firstPort,
                                 Endpoint destination, int connections) {
        List<String> lines = new ArrayList<>(connections);
        int port = firstPort;
        for (int i = 0; i < connections; i++) {
            Decision decision = table.decide(clientIp, port, destination.address(), destination.port(), network);
            lines.add(decision.isNat()
                    ? decision.destination().getAddress().getHostAddress() + ":" + decision.destination().getPort()
                    : decision.verdict());
            port = port >= LAST_EPHEMERAL_PORT || port >= 65535 ? DEFAULT_SOURCE_PORT : port + 1;
        }
        return lines;
    }

}
