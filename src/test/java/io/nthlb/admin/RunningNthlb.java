package io.nthlb.admin;

import io.nthlb.balancer.CompiledRules;
import io.nthlb.balancer.LoadBalancer;
import io.nthlb.health.FailoverOptions;
import io.nthlb.nat.NatTable;
import io.nthlb.proxy.ListenerSet;
import io.nthlb.proxy.ProxyOptions;
import io.nthlb.proxy.Transport;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A whole nthlb for tests, in this JVM: a real rules file, the real load balancer and the real admin plane
 * on 127.0.0.1 port 0, started the way {@code run} starts them.
 */
final class RunningNthlb implements AutoCloseable {

    final Path file;
    final PrometheusMetrics metrics = new PrometheusMetrics().registerJvmMetrics();
    private final LoadBalancer balancer;
    private final AdminPlane admin;

    /** Writes {@code rules} to {@code dir/test.rules} and runs it. */
    RunningNthlb(Path dir, String rules) throws IOException {
        this(dir, rules, FailoverOptions.NONE);
    }

    /** Writes {@code rules} to {@code dir/test.rules} and runs it with retries or health checks. */
    RunningNthlb(Path dir, String rules, FailoverOptions failover) throws IOException {
        file = dir.resolve("test.rules");
        rewrite(rules);
        CompiledRules compiled = CompiledRules.of(file);
        if (!compiled.ok()) {
            throw new IllegalArgumentException("bad test rules: " + compiled.errors());
        }
        balancer = LoadBalancer.start(compiled.table(),
                ProxyOptions.defaults(Transport.resolve(Transport.EPOLL)).withThreads(2), failover,
                new PrometheusRelayObserver(metrics));
        try {
            admin = AdminPlane.start(AdminAddress.parse("127.0.0.1:0"), false, file, balancer, metrics);
        } catch (IOException | RuntimeException e) {
            balancer.close();
            throw e;
        }
    }

    /** Replaces the rules file's text; nothing happens until a reload. */
    void rewrite(String rules) throws IOException {
        Files.writeString(file, rules);
    }

    AdminClient client() {
        return new AdminClient(admin.adminAddress());
    }

    AdminAddress adminAddress() {
        return admin.adminAddress();
    }

    /** As {@code run --reload-keeps-counters}: unchanged rules keep their counters and nth positions. */
    void keepCountersOnReload() {
        balancer.keepCountersOnReload(true);
    }

    /** The table new connections are decided by now. */
    NatTable table() {
        return balancer.table();
    }

    ListenerSet listeners() {
        return balancer.listeners();
    }

    @Override
    public void close() {
        admin.close();
        balancer.close();
    }
}
