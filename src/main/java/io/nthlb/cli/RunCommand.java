package io.nthlb.cli;

import io.nthlb.admin.AdminAddress;
import io.nthlb.admin.AdminPlane;
import io.nthlb.admin.PrometheusMetrics;
import io.nthlb.admin.PrometheusRelayObserver;
import io.nthlb.admin.PrometheusUdpObserver;
import io.nthlb.balancer.CompiledRules;
import io.nthlb.balancer.LoadBalancer;
import io.nthlb.balancer.ReloadOutcome;
import io.nthlb.health.FailoverOptions;
import io.nthlb.log.AccessLog;
import io.nthlb.log.StandardErrorAppender;
import io.nthlb.proxy.Limits;
import io.nthlb.proxy.ListenException;
import io.nthlb.proxy.ProxyOptions;
import io.nthlb.proxy.Transport;
import io.nthlb.proxy.TransparentProbe;
import io.nthlb.proxy.UdpOptions;
import io.nthlb.proxy.UnavailableTransportException;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code nthlb run FILE}: listen where the file's nat rules send traffic and relay each new connection. */
@Command(name = "run", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Listen where FILE's nat rules send TCP and UDP traffic, send each new connection (and each new"
                + " UDP flow) where the kernel's rules would, and relay its bytes both ways until both sides are done.",
                "SIGTERM or SIGINT stops accepting and drains open connections; a second one exits at once."},
        exitCodeListHeading = "%nExit status:%n",
        exitCodeList = {"0:stopped by SIGTERM or SIGINT after draining",
                "1:an unexpected failure",
                "2:the rules file has errors, an option is wrong or lacks the capability it needs, or a listener"
                        + " could not be opened"})
public final class RunCommand implements Callable<Integer> {


    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE",
            description = "the rules: iptables -t nat commands, or an iptables-save file")
    Path file;

    @Mixin
    DataPlaneOptions dataPlane = new DataPlaneOptions();

    @Mixin
    ClientAddressOptions clientAddress = new ClientAddressOptions();

    @Mixin
    AdminOptions admin = new AdminOptions();

    @Option(names = "--access-log", paramLabel = "FILE|-|off", defaultValue = AccessLog.OFF,
            description = "one line per connection when it ends, appended to FILE, or to standard output with -;"
                    + " lines the output cannot take in time are dropped and counted, never waited for"
                    + " (default: ${DEFAULT-VALUE})")
    String accessLogTo;

    @Option(names = "--retries", paramLabel = "N", defaultValue = "0",
            description = "when connecting to the chosen backend fails, decide the connection again (as a new"
                    + " connection: the nth counters move) and connect again, up to N more times, before the client"
                    + " is reset (default: ${DEFAULT-VALUE}, as the kernel)")
    int retries;

    @Option(names = "--health-check", paramLabel = "INTERVAL", converter = DurationConverter.class,
            description = "give every backend a TCP connect check every INTERVAL; a decision that lands on a backend"
                    + " that is down is made again, as a new connection (default: off, as the kernel)")
    Duration healthCheck;

    @Option(names = "--health-fall", paramLabel = "N", defaultValue = "" + FailoverOptions.DEFAULT_FALL,
            description = "failed checks (or connections) in a row that take a backend down (default: ${DEFAULT-VALUE})")
    int healthFall;

    @Option(names = "--health-rise", paramLabel = "N", defaultValue = "" + FailoverOptions.DEFAULT_RISE,
            description = "successful checks in a row that bring a backend up again (default: ${DEFAULT-VALUE})")
    int healthRise;

    @Option(names = "--drain-timeout", paramLabel = "DURATION", defaultValue = "30s", converter = DurationConverter.class,
            description = "on SIGTERM/SIGINT, how long open connections may take to finish before they are reset"
                    + " (default: ${DEFAULT-VALUE})")
    Duration drainTimeout;

    @Option(names = "--reload-keeps-counters",
            description = "on reload, a rule that is unchanged keeps its counters and its nth position, so a cascade"
                    + " goes on where it was (default: every rule starts from zero, as iptables-restore starts them)")
    boolean reloadKeepsCounters;

    @Option(names = "--udp-timeout", paramLabel = "DURATION", defaultValue = "30s",
            converter = DurationConverter.class,
            description = "forget a UDP flow that has had no reply after this long without a datagram"
                    + " (default: ${DEFAULT-VALUE}, nf_conntrack_udp_timeout)")
    Duration udpTimeout;

    @Option(names = "--udp-stream-timeout", paramLabel = "DURATION", defaultValue = "120s",
            converter = DurationConverter.class,
            description = "forget an answered UDP flow after this long without a datagram"
                    + " (default: ${DEFAULT-VALUE}, nf_conntrack_udp_timeout_stream)")
    Duration udpStreamTimeout;

    @Option(names = "--udp-max-flows", paramLabel = "N",
            description = "the most UDP flows kept at once; a datagram that would start another is dropped"
                    + " (default: what the file-descriptor limit leaves, shared with TCP connections; see docs/limits.md)")
    Integer udpMaxFlows;

    /** How UDP flows are kept. */
    UdpOptions toUdpOptions() {
        UdpOptions o = UdpOptions.defaults().withTimeout(udpTimeout).withStreamTimeout(udpStreamTimeout);
        return udpMaxFlows == null ? o : o.withMaxFlows(udpMaxFlows);
    }

    /** Where a shutdown request comes from: the process's signals unless a test supplies its own. */
    ShutdownSignals signals;
    /** Where systemd hears about start-up, reloads and the stop: {@code $NOTIFY_SOCKET} unless a test sets it. */
    SystemdNotify notify;
    /** Completed with the running balancer once it listens, for tests that run the command in-process. */
    final CompletableFuture<LoadBalancer> started = new CompletableFuture<>();

    @Override
    public Integer call() throws InterruptedException {
        try {
            return serve();
        } finally {
            // A start-up that failed never listens; tests waiting on it must not wait forever.
            started.completeExceptionally(new IllegalStateException("nthlb run did not start"));
        }
    }

    private int serve() throws InterruptedException {
        PrintWriter err = spec.commandLine().getErr();
        CompiledRules rules = CompiledRules.of(file);
        // Printed as check prints them, so run and check say the same things about a file.
        rules.warnings().forEach(err::println);
        rules.errors().forEach(err::println);
        err.flush();
        if (!rules.ok()) {
            return 2;
        }
        ProxyOptions options;
        FailoverOptions failover;
        UdpOptions udpOptions;
        try {
            options = dataPlane.toProxyOptions()
                    .withClientAddressing(clientAddress.toClientAddressing(rules.table().listenAddresses()));
            failover = new FailoverOptions(retries, healthCheck, healthFall, healthRise);
            udpOptions = toUdpOptions();
        } catch (UnavailableTransportException | IllegalArgumentException e) {
            err.println("nthlb run: " + e.getMessage());
            err.flush();
            return 2;
        }
        String missing = options.clientAddressing().transparent() ? TransparentProbe.missingCapability() : null;
        if (missing != null) {
            err.println("nthlb run: " + missing);
            err.flush();
            return 2;
        }
        // A bad or non-loopback --admin is a usage error before anything listens.
        AdminAddress adminAddress = admin.address();
        AccessLog accessLog;
        try {
            accessLog = AccessLog.open(accessLogTo);
        } catch (IOException e) {
            err.println("nthlb run: --access-log " + accessLogTo + ": cannot open it: " + e.getMessage());
            err.flush();
            return 2;
        }
        try {
            return listenAndServe(err, rules, options, failover, udpOptions, adminAddress,
                    accessLog == null ? () -> 0 : accessLog::dropped);
        } finally {
            if (accessLog != null) {
                accessLog.close();
            }
        }
    }

    private int listenAndServe(PrintWriter err, CompiledRules rules, ProxyOptions options, FailoverOptions failover,
                               UdpOptions udpOptions, AdminAddress adminAddress, LongSupplier accessLinesDropped)
            throws InterruptedException {
        // No logging type in this method's signature: picocli reads every method of the command to build the
        // command line, which loads the classes they name, and check or --version would load Logback too.
        // Not a static field: picocli creates every subcommand to build the command line, and a static logger
        // would configure logging (some 500 classes) for check, simulate and --version too.
        Logger log = LoggerFactory.getLogger(RunCommand.class);
        PrometheusMetrics metrics = new PrometheusMetrics();
        metrics.watchDroppedLogLines(accessLinesDropped,
                StandardErrorAppender::droppedLines);
        // Caught before listening, so a signal that arrives during start-up still drains.
        ShutdownSignals signals = this.signals != null ? this.signals : ShutdownSignals.install();
        LoadBalancer balancer;
        PrometheusUdpObserver udpMetrics = new PrometheusUdpObserver(metrics);
        try {
            balancer = LoadBalancer.start(rules.table(), options, failover, udpOptions,
                    new PrometheusRelayObserver(metrics), udpMetrics);
        } catch (ListenException e) {
            err.println("nthlb run: " + e.getMessage());
            err.flush();
            return 2;
        }
        udpMetrics.watch(balancer.udp());
        balancer.keepCountersOnReload(reloadKeepsCounters);
        log.info("{} rule(s) from {}; transport {}, {} event-loop thread(s), at most {} connection(s) at once{}",
                rules.rules(), file, options.transport().label(), options.threads(), balancer.server().maxConnections(),
                balancer.udpListening().isEmpty() ? "" : " and " + balancer.udp().maxFlows() + " UDP flow(s)");
        TimeWaitCheck.check(rules.table().ruleset(), options.sources().size()).ifPresent(log::warn);
        if (failover.checksHealth()) {
            log.info("health checks every {} ms for {} backend(s) (fall {}, rise {}); {} retr{} per connection",
                    failover.checkInterval().toMillis(), rules.table().backends().size(), failover.fall(),
                    failover.rise(), failover.retries(), failover.retries() == 1 ? "y" : "ies");
        } else if (failover.retries() > 0) {
            log.info("{} retr{} per connection; no health checks", failover.retries(),
                    failover.retries() == 1 ? "y" : "ies");
        }
        // Only what the first connection needs comes before the listeners; the rest of start-up follows them.
        metrics.registerJvmMetrics();
        metrics.watchConnectionLimit(balancer.server()::maxConnections);
        SystemdNotify notify = this.notify != null ? this.notify : SystemdNotify.fromEnvironment(System.getenv());
        AdminPlane adminPlane;
        try {
            adminPlane = AdminPlane.start(adminAddress, admin.allowRemote(), file, balancer, metrics,
                    reload -> () -> {
                        notify.reloading();
                        ReloadOutcome outcome = reload.reload();
                        notify.ready(outcome.messages().isEmpty() ? "serving" : outcome.messages().get(0));
                        return outcome;
                    });
        } catch (IOException e) {
            err.println("nthlb run: " + e.getMessage());
            err.flush();
            balancer.close();
            return 2;
        }
        notify.ready("listening on " + balancer.listening().size() + " address(es)");
        started.complete(balancer);
        String signal = signals.await();
        log.info("{} received", signal);
        notify.stopping();
        adminPlane.close();
        balancer.drain(drainTimeout);
        return 0;
    }

    /** The options {@code run} and {@code demo} share: how the data plane runs. */
    public static final class DataPlaneOptions {
        @Option(names = "--transport", paramLabel = "NAME", defaultValue = "epoll",
                description = "epoll, nio or io_uring (default: ${DEFAULT-VALUE}; falls back to nio, with a warning,"
                        + " where epoll is not available; io_uring only when asked for)")
        String transport;

        @Option(names = "--threads", paramLabel = "N",
                description = "event-loop threads (default: the number of cores + 1)")
        Integer threads;

        @Option(names = "--connect-timeout", paramLabel = "DURATION", defaultValue = "5s",
                converter = DurationConverter.class,
                description = "how long a backend has to accept a connection before the client is reset"
                        + " (default: ${DEFAULT-VALUE})")
        Duration connectTimeout;

        @Option(names = "--idle-timeout", paramLabel = "DURATION", defaultValue = "5d",
                converter = DurationConverter.class,
                description = "reset both sides of a connection that carried nothing either way for this long"
                        + " (default: ${DEFAULT-VALUE}, conntrack's established timeout)")
        Duration idleTimeout;

        @Option(names = "--bind-any",
                description = "set IP_FREEBIND on listeners, so a standby host can listen on a VIP before it owns"
                        + " it (epoll and io_uring only)")
        boolean bindAny;

        @Option(names = "--max-connections", paramLabel = "N",
                description = "client connections served at once; the next ones wait in the kernel's backlog until"
                        + " one closes (default: what the descriptor limit allows, two descriptors per connection"
                        + " and a margin)")
        Integer maxConnections;

        @Option(names = "--max-connections-per-client", paramLabel = "N", defaultValue = "0",
                description = "connections open at once from one client address; more are reset on accept"
                        + " (default: no limit; for hosts that face the open internet)")
        int maxPerClient;

        @Option(names = "--max-rate-per-client", paramLabel = "N", defaultValue = "0",
                description = "new connections per second from one client address; more are reset on accept"
                        + " (default: no limit)")
        int maxRatePerClient;

        @Option(names = "--source", paramLabel = "ADDR[-ADDR]",
                description = "spread backend connections over these local addresses, bound with"
                        + " IP_BIND_ADDRESS_NO_PORT, so each adds a full source-port range per backend (repeatable;"
                        + " epoll and io_uring only)")
        List<String> sources = new ArrayList<>();

        /** The proxy's options; the transport resolved (epoll falling back to nio). */
        public ProxyOptions toProxyOptions() {
            Transport chosen = Transport.resolve(Transport.forLabel(transport));
            if (maxConnections != null && maxConnections < 1) {
                throw new IllegalArgumentException("--max-connections " + maxConnections + " (expected: >= 1)");
            }
            if (maxPerClient < 0 || maxRatePerClient < 0) {
                throw new IllegalArgumentException("--max-connections-per-client and --max-rate-per-client take"
                        + " a number >= 0 (0: no limit)");
            }
            List<InetAddress> addresses = new ArrayList<>();
            for (String s : sources) {
                addresses.addAll(SourceRange.parse(s));
            }
            SourceRange.requireLocal(addresses);
            ProxyOptions o = ProxyOptions.defaults(chosen)
                    .withConnectTimeout(connectTimeout)
                    .withIdleTimeout(idleTimeout)
                    .withBindAny(bindAny)
                    .withLimits(new Limits(maxConnections == null ? 0 : maxConnections, maxPerClient, maxRatePerClient))
                    .withSources(addresses);
            return threads == null ? o : o.withThreads(threads);
        }
    }
}
