package io.nthlb.proxy;

import java.net.InetSocketAddress;
import java.util.function.Predicate;

/**
 * Hears what the data plane does, for metrics and live counters: told of each accepted connection, it
 * returns the {@link ConnectionObserver} that hears the rest of that connection's life, so per-backend
 * instruments are looked up once per connection rather than once per event. Methods are called on event
 * loops and must not block. {@link #NONE} hears nothing and costs an inlined empty call.
 */
public interface RelayObserver {

    /** The observer that hears nothing. */
    RelayObserver NONE = new RelayObserver() {
    };

    /**
     * A connection was accepted and routed ({@link Connection#route()} may have no backend); the returned
     * observer hears the rest of its life.
     */
    default ConnectionObserver accepted(Connection connection) {
        return ConnectionObserver.NONE;
    }

    /**
     * A connection whose backend could not be reached was given another route ({@link Connection#route()}
     * now names the new backend); the returned observer hears the rest of its life, starting with
     * {@link ConnectionObserver#connecting()}.
     */
    default ConnectionObserver rerouted(Connection connection) {
        return ConnectionObserver.NONE;
    }

    /**
     * New connections are routed by another table now (a reload), which can send them only to the backends
     * {@code routable} accepts; open connections keep theirs. Called on the reloading thread.
     */
    default void routable(Predicate<InetSocketAddress> routable) {
    }

    /** Accepting on {@code listener} failed (for example: too many open files). */
    default void acceptFailed(InetSocketAddress listener, Throwable cause) {
    }

    /**
     * The listener on {@code listener} stopped accepting because {@code --max-connections} are open; it resumes
     * when one closes, and the clients that come meanwhile wait in the kernel's backlog.
     */
    default void limitReached(InetSocketAddress listener) {
    }

    /** A connection from {@code client} was reset as soon as it was accepted, because of {@code limit}. */
    default void clientRefused(InetSocketAddress client, ClientLimit limit) {
    }
}
