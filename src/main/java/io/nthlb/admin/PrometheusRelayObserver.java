package io.nthlb.admin;

import io.nthlb.proxy.ClientLimit;
import io.nthlb.proxy.Connection;
import io.nthlb.proxy.ConnectionObserver;
import io.nthlb.proxy.Direction;
import io.nthlb.proxy.Ending;
import io.nthlb.proxy.LocalFailure;
import io.nthlb.proxy.RelayObserver;
import java.net.InetSocketAddress;
import java.util.function.Predicate;

/**
 * Counts what the relay does into {@link PrometheusMetrics}: the backend's instruments are looked up once,
 * when a connection is accepted, and every later event of that connection increments them directly; the
 * connection holds them until it ends, so a reload never removes the series of a backend still in use.
 */
public final class PrometheusRelayObserver implements RelayObserver {

    private final PrometheusMetrics metrics;

    public PrometheusRelayObserver(PrometheusMetrics metrics) {
        this.metrics = metrics;
    }

    @Override
    public ConnectionObserver accepted(Connection connection) {
        metrics.listener(connection.listener()).accepted();
        InetSocketAddress backend = connection.route().backend();
        return backend == null ? ConnectionObserver.NONE : new BackendObserver(metrics.backend(backend));
    }

    @Override
    public ConnectionObserver rerouted(Connection connection) {
        return new BackendObserver(metrics.backend(connection.route().backend()));
    }

    @Override
    public void routable(Predicate<InetSocketAddress> routable) {
        metrics.routable(routable);
    }

    @Override
    public void acceptFailed(InetSocketAddress listener, Throwable cause) {
        metrics.listener(listener).acceptError();
    }

    @Override
    public void limitReached(InetSocketAddress listener) {
        metrics.listener(listener).limitReached();
    }

    @Override
    public void clientRefused(InetSocketAddress client, ClientLimit limit) {
        metrics.clientRefused(limit.label());
    }

    /**
     * One connection's observer. The relay calls it only on the connection's event loop, so
     * {@code connected} needs no {@code volatile}.
     */
    private static final class BackendObserver implements ConnectionObserver {
        private final PrometheusMetrics.Backend backend;
        private boolean connected;

        BackendObserver(PrometheusMetrics.Backend backend) {
            this.backend = backend;
        }

        @Override
        public void connecting() {
            backend.connecting();
        }

        @Override
        public void connected() {
            connected = true;
            backend.opened();
        }

        @Override
        public void connectFailed(Ending ending) {
            backend.connectFailed();
        }

        @Override
        public void connectFailedLocally(LocalFailure why) {
            backend.localFailure(why.label());
        }

        @Override
        public void abandoned() {
            backend.release();
        }

        @Override
        public void bytesRelayed(Direction direction, long bytes) {
            if (direction == Direction.CLIENT_TO_BACKEND) {
                backend.sentToBackend(bytes);
            } else {
                backend.receivedFromBackend(bytes);
            }
        }

        @Override
        public void readingPaused(Direction direction) {
            if (direction == Direction.CLIENT_TO_BACKEND) {
                backend.downstreamReadingPaused();
            } else {
                backend.upstreamReadingPaused();
            }
        }

        @Override
        public void ended(Connection connection) {
            if (connected) {
                backend.closed();
            }
            if (connection.ending() == Ending.CLIENT_RESET) {
                backend.downstreamReset();
            } else if (connection.ending() == Ending.BACKEND_RESET) {
                backend.upstreamReset();
            }
            backend.release();
        }
    }
}
