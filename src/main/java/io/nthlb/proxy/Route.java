package io.nthlb.proxy;

import java.net.InetSocketAddress;

/**
 * One routing decision for one connection: the backend to connect to (or none), a label for the logs, and
 * callbacks through which the relay reports bytes and how the connection ended.
 */
public interface Route {

    /** The backend to connect to, or {@code null} when no rule sends this connection anywhere. */
    InetSocketAddress backend();

    /** What decided, for the access log: a rule such as {@code PREROUTING:1}, or {@code -}. */
    String label();

    /**
     * Bytes just relayed in either direction, reported once per read batch (not per byte or per buffer) so a
     * rule's counters move while a long connection is open.
     */
    default void bytesRelayed(long bytes) {
    }

    /**
     * Connecting to {@link #backend()} failed with {@code failure} (refused, unreachable or timeout), and none of
     * the client's bytes is lost yet: returns the route to try instead, or {@code null} to end the connection
     * with that failure (the client is reset). Called on the connection's event loop; the default
     * never retries, as the kernel cannot.
     */
    default Route retry(Ending failure) {
        return null;
    }

    /** Called once, on the connection's event loop, when the connection has ended. */
    default void ended(Ending ending) {
    }

    /** A route that sends the connection nowhere: the client is reset. */
    static Route none(String label) {
        return new FixedRoute(null, label);
    }

    /** A route to a fixed backend that reports to nobody; for tests and the demo's own checks. */
    static Route to(InetSocketAddress backend, String label) {
        return new FixedRoute(backend, label);
    }

    /** A route with nothing to report to. */
    record FixedRoute(InetSocketAddress backend, String label) implements Route {
    }
}
