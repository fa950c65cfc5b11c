package io.nthlb.admin;

import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * The per-backend instruments of one observer, kept while the running table can route to the backend or a
 * connection (or UDP flow) to it is open, and removed from the registry once neither holds: backends that
 * reloads drop (pods of old rollouts) do not pile up series forever. A backend that comes back later starts
 * fresh series, as Prometheus expects of a target that reappears.
 *
 * <p>Each connection holds its backend's instruments from {@link #hold} to {@link #release}, on event loops,
 * while reloads call {@link #routable} on another thread. A use count per backend, which retiring turns into
 * {@link #RETIRED} by compare-and-set only from zero, keeps the two apart without a lock on the data path: an
 * instrument is never removed while a connection increments it, and one that a connection decided by the old
 * table takes after the reload is removed when that connection releases it.
 */
final class BackendSeries<T extends BackendSeries.Held> {

    private static final int RETIRED = -1;

    /** One backend's instruments: how many hold them, and how to remove their series from the registry. */
    abstract static class Held {
        final InetSocketAddress backend;
        final AtomicInteger users = new AtomicInteger();

        Held(InetSocketAddress backend) {
            this.backend = backend;
        }

        /** Removes every series of this backend from the registry; called once, when no one holds it. */
        abstract void removeSeries();

        boolean enter() {
            for (int u = users.get(); u != RETIRED; u = users.get()) {
                if (users.compareAndSet(u, u + 1)) {
                    return true;
                }
            }
            return false;
        }
    }

    private final Function<InetSocketAddress, T> create;
    private final Map<InetSocketAddress, T> held = new ConcurrentHashMap<>();
    /** Before the first reload, every backend a connection goes to is the table's. */
    private volatile Predicate<InetSocketAddress> routable = backend -> true;

    BackendSeries(Function<InetSocketAddress, T> create) {
        this.create = create;
    }

    /** {@code backend}'s instruments, created on first use, held until {@link #release}. */
    T hold(InetSocketAddress backend) {
        while (true) {
            T t = held.computeIfAbsent(backend, create);
            if (t.enter()) {
                return t;
            }
            // Retired a moment ago by another thread, which is taking it out of the map: take the next one.
            Thread.onSpinWait();
        }
    }

    /** One holder of {@code t} is done with it: the last removes its series if the table no longer routes there. */
    void release(T t) {
        if (t.users.decrementAndGet() == 0 && !routable.test(t.backend)) {
            retire(t);
        }
    }

    /**
     * The running table changed: from now on {@code routable} says which backends it can send to. Those it
     * cannot that no one holds lose their series now; the others when their last connection ends.
     */
    void routable(Predicate<InetSocketAddress> routable) {
        // Written before the sweep, so a release the sweep does not see reads the new table.
        this.routable = routable;
        for (T t : held.values()) {
            if (t.users.get() == 0 && !routable.test(t.backend)) {
                retire(t);
            }
        }
    }

    /** How many backends have series now. */
    int size() {
        return held.size();
    }

    private void retire(T t) {
        // The series go before the map entry does, so a backend held again meanwhile gets fresh series, never
        // ones about to be removed.
        held.computeIfPresent(t.backend, (backend, current) -> {
            if (current != t || routable.test(backend) || !t.users.compareAndSet(0, RETIRED)) {
                return current;
            }
            t.removeSeries();
            return null;
        });
    }
}
