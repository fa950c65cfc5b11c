package io.nthlb.admin;

import io.nthlb.balancer.LoadBalancer;
import io.nthlb.balancer.ReloadOutcome;
import java.io.IOException;
import java.nio.file.Path;
import java.util.function.UnaryOperator;

/**
 * The admin side of a running nthlb, started and stopped as one: reload on SIGHUP and over HTTP, the admin
 * endpoint (unless it is off), and the metrics that read the table and the data plane.
 *
 * <p>{@code run} calls {@link #start} once its listeners are open and closes it before draining.
 */
public final class AdminPlane implements AutoCloseable {

    private final SighupReload sighup;
    private final AdminServer server;

    private AdminPlane(SighupReload sighup, AdminServer server) {
        this.sighup = sighup;
        this.server = server;
    }

    /**
     * Starts everything.
     *
     * @param address     where the endpoint listens, or {@code null} for none
     * @param allowRemote whether {@code address} may be a non-loopback address
     * @param metrics     the registry the data plane's observer already counts into
     * @throws IOException when the admin address cannot be bound
     */
    public static AdminPlane start(AdminAddress address, boolean allowRemote, Path rulesFile, LoadBalancer balancer,
                                   PrometheusMetrics metrics) throws IOException {
        return start(address, allowRemote, rulesFile, balancer, metrics, UnaryOperator.identity());
    }

    /**
     * Starts everything, each reload (SIGHUP or HTTP) going through {@code around}: for work before and after
     * it, such as telling systemd.
     */
    public static AdminPlane start(AdminAddress address, boolean allowRemote, Path rulesFile, LoadBalancer balancer,
                                   PrometheusMetrics metrics, UnaryOperator<ReloadAction> around)
            throws IOException {
        metrics.watchTable(balancer::table);
        metrics.watchDataPlane(() -> balancer.listeners().addresses().size(), balancer::openConnections);
        if (balancer.health() != null) {
            metrics.watchHealth(balancer.health());
        }
        ReloadAction reload = around.apply(() -> {
            ReloadOutcome outcome = balancer.reload(rulesFile);
            metrics.reloaded(outcome.status());
            return outcome;
        });
        String version = AdminPlane.class.getPackage().getImplementationVersion();
        TableListing listing = new NatTableListing(balancer::table,
                "nthlb " + (version == null ? "(development build)" : version), balancer.health());
        AdminServer server = address == null ? null
                : AdminServer.start(address, allowRemote, listing, reload, metrics.registry(),
                        balancer.server()::probeEventLoops);
        SighupReload sighup;
        try {
            sighup = SighupReload.install(reload);
        } catch (RuntimeException e) {
            if (server != null) {
                server.close();
            }
            throw e;
        }
        return new AdminPlane(sighup, server);
    }

    /** Where the admin endpoint listens, or {@code null} for {@code --admin off}. */
    public AdminAddress adminAddress() {
        return server == null ? null : server.address();
    }

    /** Stops the endpoint and puts the previous SIGHUP handler back; the data plane is not touched. */
    @Override
    public void close() {
        sighup.close();
        if (server != null) {
            server.close();
        }
    }
}
