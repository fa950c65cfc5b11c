package io.nthlb.cli;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.nthlb.balancer.CompiledRules;
import io.nthlb.balancer.LoadBalancer;
import io.nthlb.proxy.Addresses;
import io.nthlb.proxy.ProxyOptions;
import io.nthlb.proxy.RelayObserver;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The demo: two small HTTP backends, B and C, and nthlb balancing a loopback VIP over them with the seed's
 * two rules rewritten to loopback addresses.
 */
public final class Demo implements AutoCloseable {

    private final EventLoopGroup backendLoop;
    private final List<DemoHttpBackend> backends;
    private final LoadBalancer balancer;
    private final String rules;

    private Demo(EventLoopGroup backendLoop, List<DemoHttpBackend> backends, LoadBalancer balancer, String rules) {
        this.backendLoop = backendLoop;
        this.backends = backends;
        this.balancer = balancer;
        this.rules = rules;
    }

    /**
     * Starts backend B on {@code bPort}, C on {@code cPort} and nthlb on {@code vipPort}, all on 127.0.0.1;
     * a port of 0 means any free port.
     */
    public static Demo start(int vipPort, int bPort, int cPort, ProxyOptions options) throws IOException {
        InetAddress loopback = InetAddress.getByName("127.0.0.1");
        EventLoopGroup loop = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        DemoHttpBackend b = null;
        DemoHttpBackend c = null;
        try {
            b = DemoHttpBackend.start("B", new InetSocketAddress(loopback, bPort), loop);
            c = DemoHttpBackend.start("C", new InetSocketAddress(loopback, cPort), loop);
            // The rules name the VIP's port, so a port 0 is resolved before the rules are written.
            int vip = vipPort != 0 ? vipPort : freePort(loopback);
            String text = rules(vip, b.address().getPort(), c.address().getPort());
            Path file = Files.createTempFile("nthlb-demo", ".rules");
            try {
                Files.writeString(file, text);
                CompiledRules loaded = CompiledRules.of(file);
                if (!loaded.ok()) {
                    throw new IllegalStateException("the demo's own rules do not parse: " + loaded.errors());
                }
                LoadBalancer balancer = LoadBalancer.start(loaded.table(), options, RelayObserver.NONE);
                return new Demo(loop, List.of(b, c), balancer, text);
            } finally {
                Files.deleteIfExists(file);
            }
        } catch (IOException | RuntimeException e) {
            if (b != null) {
                b.close();
            }
            if (c != null) {
                c.close();
            }
            loop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw e;
        }
    }

    /** The seed's rules (conf/seed.rules), with the VIP and backends B and C moved to 127.0.0.1. */
    static String rules(int vipPort, int bPort, int cPort) {
        return "# Rule 1 sees every connection and takes the 1st, 3rd, 5th...; rule 2 sees the rest and takes them all.\n"
                + "iptables -t nat -A PREROUTING -d 127.0.0.1 -p tcp --dport " + vipPort
                + " -m statistic --mode nth --every 2 --packet 0 -j DNAT --to-destination 127.0.0.1:" + bPort + "\n"
                + "iptables -t nat -A PREROUTING -d 127.0.0.1 -p tcp --dport " + vipPort
                + " -m statistic --mode nth --every 1 --packet 0 -j DNAT --to-destination 127.0.0.1:" + cPort + "\n";
    }

    private static int freePort(InetAddress address) {
        try (ServerSocket probe = new ServerSocket(0, 1, address)) {
            return probe.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Where nthlb listens. */
    public InetSocketAddress vip() {
        return balancer.listening().get(0);
    }

    /** The rules text the demo runs. */
    public String rules() {
        return rules;
    }

    /** What the demo prints when it starts: the backends, the rules and a command to try. */
    public String banner() {
        StringBuilder s = new StringBuilder();
        for (DemoHttpBackend backend : backends) {
            s.append("backend ").append(backend.name()).append(" on http://").append(Addresses.format(backend.address()))
                    .append('/').append('\n');
        }
        s.append("nthlb on ").append(Addresses.format(vip())).append(" with these rules:\n\n").append(rules).append('\n')
                .append("Try it (each request is a new connection, so the answers alternate B, C, B, C):\n\n")
                .append("    for i in 1 2 3 4; do curl -s http://").append(Addresses.format(vip())).append("/; done\n\n")
                .append("Ctrl-C stops the demo.\n");
        return s.toString();
    }

    /** Stops accepting, lets open connections finish for up to {@code timeout}, then stops everything. */
    public void drain(Duration timeout) {
        balancer.drain(timeout);
        close();
    }

    @Override
    public void close() {
        balancer.close();
        backends.forEach(DemoHttpBackend::close);
        backendLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }
}
