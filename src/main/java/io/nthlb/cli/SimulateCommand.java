package io.nthlb.cli;

import io.nthlb.health.Failover;
import io.nthlb.nat.Decision;
import io.nthlb.nat.HostNetwork;
import io.nthlb.nat.NatTable;
import io.nthlb.rules.LoadResult;
import io.nthlb.rules.RulesFile;
import io.nthlb.nat.RandomSource;
import io.nthlb.rules.Ruleset;
import io.nthlb.proxy.Addresses;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
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
        description = "Send N new connections (or UDP flows, with --proto udp) through the rules, as the kernel"
                + " would, and print where each goes: the backend's IP:PORT, or the policy (ACCEPT) when no rule NATs"
                + " it.",
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

    @Option(names = "--down", paramLabel = "IP:PORT", converter = Endpoint.Converter.class,
            description = "A backend the health checks (run --health-check) find down; repeatable. A connection that"
                    + " lands on one is decided again, as a new connection, and its line names the backends skipped.")
    List<Endpoint> down = new ArrayList<>();

    @Option(names = {"--proto", "-p"}, paramLabel = "PROTO", defaultValue = "tcp",
            description = "tcp or udp (default: ${DEFAULT-VALUE}). With udp each connection is a new UDP flow (a new"
                    + " source port, as conntrack counts them), and only rules that match UDP decide it.")
    String protocol;

    @Option(names = "--udp", description = "Short for --proto udp.")
    boolean udp;

    @Option(names = "--seed", paramLabel = "S",
            description = "Seed for -m statistic --mode random and DNAT --random, for a reproducible run.")
    Long seed;

    @Override
    public Integer call() {
        if (connections < 0) {
            throw new CommandLine.ParameterException(spec.commandLine(), "-n: " + connections + " (expected: >= 0)");
        }
        boolean udpFlows = udp || protocol.equalsIgnoreCase("udp");
        if (!udpFlows && !protocol.equalsIgnoreCase("tcp")) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--proto: " + protocol + " (expected: tcp or udp)");
        }
        if (udpFlows && !down.isEmpty()) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--down: health checks and retries are for TCP connections; UDP flows are not failed over");
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
        Set<InetSocketAddress> downBackends = new HashSet<>();
        for (Endpoint backend : down) {
            if (backend.port() < 0) {
                throw new CommandLine.ParameterException(spec.commandLine(),
                        "--down: " + backend.text() + " (expected: IP:PORT, the backend's address and port)");
            }
            downBackends.add(backend.toSocketAddress());
        }
        Endpoint client = source != null ? source : Endpoint.parse(DEFAULT_SOURCE_ADDRESS);
        int firstPort = client.port() >= 0 ? client.port() : DEFAULT_SOURCE_PORT;
        HostNetwork network = HostNetwork.simulated(inInterface == null ? "" : inInterface, destination.address(),
                !destinationNotLocal);
        List<String> lines = udpFlows
                ? simulateUdp(table, network, client.address(), firstPort, destination, connections)
                : simulate(table, network, client.address(), firstPort, destination, connections, downBackends);
        for (String line : lines) {
            out.println(line);
        }
        out.flush();
        return 0;
    }

    /** {@link #simulate(NatTable, HostNetwork, int, int, Endpoint, int, Set)} with every backend up. */
    static List<String> simulate(NatTable table, HostNetwork network, int clientIp, int firstPort,
                                 Endpoint destination, int connections) {
        return simulate(table, network, clientIp, firstPort, destination, connections, Set.of());
    }

    /**
     * One line per connection: {@code ip:port} it is sent to, or the policy word. The source port starts at
     * {@code firstPort} and goes up by one per connection, wrapping to the start of the ephemeral range. A
     * connection that lands on a backend in {@code down} is decided again as {@link Failover} decides, and its
     * line adds the backends skipped: {@code 172.16.1.201:80 (skipped 172.16.1.202:80, down)}, or, when every
     * walk landed on a down backend, {@code 172.16.1.202:80 (every backend down: tried as the kernel would)}.
     */
    static List<String> simulate(NatTable table, HostNetwork network, int clientIp, int firstPort,
                                 Endpoint destination, int connections, Set<InetSocketAddress> down) {
        List<String> lines = new ArrayList<>(connections);
        int port = firstPort;
        for (int i = 0; i < connections; i++) {
            Failover.Outcome outcome = Failover.decide(table, clientIp, port, destination.address(),
                    destination.port(), network, down::contains);
            Decision decision = outcome.decision();
            String line = decision.isNat() ? Addresses.format(decision.destination()) : decision.verdict();
            if (outcome.allDown()) {
                line += " (every backend down: tried as the kernel would)";
            } else if (!outcome.skipped().isEmpty()) {
                List<String> skipped = new ArrayList<>();
                outcome.skipped().forEach(backend -> skipped.add(Addresses.format(backend)));
                line += " (skipped " + String.join(" ", skipped) + ", down)";
            }
            lines.add(line);
            port = nextPort(port);
        }
        return lines;
    }

    /** One line per new UDP flow, as {@link #simulate(NatTable, HostNetwork, int, int, Endpoint, int)} for connections. */
    static List<String> simulateUdp(NatTable table, HostNetwork network, int clientIp, int firstPort,
                                    Endpoint destination, int flows) {
        List<String> lines = new ArrayList<>(flows);
        int port = firstPort;
        for (int i = 0; i < flows; i++) {
            Decision decision = table.decideUdp(clientIp, port, destination.address(), destination.port(), network);
            lines.add(decision.isNat() ? Addresses.format(decision.destination()) : decision.verdict());
            port = nextPort(port);
        }
        return lines;
    }

    /** The next source port a client would use: up by one, wrapping to the start of the ephemeral range. */
    private static int nextPort(int port) {
        return port >= LAST_EPHEMERAL_PORT || port >= 65535 ? DEFAULT_SOURCE_PORT : port + 1;
    }

}
