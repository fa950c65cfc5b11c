package io.nthlb.proxy;

import java.net.InetAddress;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;

/**
 * The connection limits at run time. A listener takes a slot of the global limit before it accepts, so that a
 * connection nthlb could not serve is never accepted: it stays in the kernel's backlog until a slot frees up.
 * A listener that finds no slot stops accepting and {@link #pause pauses}; the first slot freed wakes it.
 * Transports whose listeners cannot ask before they accept (NIO accepts a batch, io_uring has accepts in
 * flight) park the few connections accepted past the limit unread in a queue ({@link #waitForSlot}), and each
 * freed slot goes to the first of them. The per-client limits, opt-in, are checked once the client's address
 * is known. Thread-safe: every event loop accepts and closes through it.
 */
final class ConnectionLimits {

    private static final long SECOND = TimeUnit.SECONDS.toNanos(1);

    /** A listener that stops accepting when no slot is free. */
    interface Gate {
        /** A slot has freed up: resume accepting. Called from any thread; runs the resume on the gate's loop. */
        void slotFreed();
    }

    /** Lowered once, when the table's listeners are open (see {@link ProxyServer#divideDescriptors}). */
    private volatile int max;
    private final int maxPerClient;
    private final int maxRatePerClient;
    private final LongSupplier nanoTime;
    private final AtomicInteger served = new AtomicInteger();
    private final Set<Gate> paused = ConcurrentHashMap.newKeySet();
    private final Queue<Runnable> waiting = new ConcurrentLinkedQueue<>();
    private final Map<InetAddress, Client> clients = new ConcurrentHashMap<>();
    /** Until when (nanoTime) no slot is given out because descriptors ran out; 0 for no back-off. */
    private volatile long backOffUntil;

    ConnectionLimits(int max, Limits limits, LongSupplier nanoTime) {
        this.max = max;
        this.maxPerClient = limits.maxPerClient();
        this.maxRatePerClient = limits.maxRatePerClient();
        this.nanoTime = nanoTime;
    }

    /** The global limit in force. */
    int max() {
        return max;
    }

    void setMax(int n) {
        max = n;
    }

    /** Slots taken now: connections accepted (or about to be) and not yet closed. */
    int served() {
        return served.get();
    }

    /** Takes a slot if one is free (and descriptors have not just run out: see {@link #backOff}). */
    boolean reserve() {
        if (backOffUntil != 0 && backOffLeft() > 0) {
            return false;
        }
        for (;;) {
            int n = served.get();
            if (n >= max) {
                return false;
            }
            if (served.compareAndSet(n, n + 1)) {
                return true;
            }
        }
    }

    /**
     * Descriptors ran out (accept, or the backend's socket, failed with EMFILE or ENFILE): no slot is given out for
     * a second, so that listeners wait instead of accepting connections that could only be reset, and retry then
     * (the descriptors may be held by something else, whose release nothing here would notice).
     */
    void backOff() {
        long until = nanoTime.getAsLong() + SECOND;
        backOffUntil = until == 0 ? 1 : until; // 0 means none
    }

    /** Nanoseconds left of a {@link #backOff}, or 0. */
    long backOffLeft() {
        long until = backOffUntil;
        if (until == 0) {
            return 0;
        }
        long left = until - nanoTime.getAsLong();
        if (left <= 0) {
            backOffUntil = 0;
            return 0;
        }
        return left;
    }

    /** Gives a slot back (its connection closed, or the accept it was taken for found nothing). */
    void release() {
        // Not while backing off: a waiting connection could only be reset for want of a descriptor.
        Runnable next = backOffUntil != 0 && backOffLeft() > 0 ? null : waiting.poll();
        if (next != null) {
            next.run(); // the slot passes to a connection accepted past the limit
            return;
        }
        served.decrementAndGet();
        if (!paused.isEmpty()) {
            for (Gate g : paused) {
                if (paused.remove(g)) {
                    g.slotFreed();
                }
            }
        }
    }

    /**
     * {@code gate} found no slot and stopped accepting; it is woken when one frees up. A slot freed between its
     * failed {@link #reserve} and this call wakes it at once.
     */
    void pause(Gate gate) {
        paused.add(gate);
        if (served.get() < max && paused.remove(gate)) {
            gate.slotFreed();
        }
    }

    /**
     * A connection was accepted past the limit: {@code admit} runs, holding a slot, as soon as one frees up (at
     * once, if one freed up meanwhile).
     */
    void waitForSlot(Runnable admit) {
        waiting.add(admit);
        if (reserve()) {
            Runnable next = waiting.poll();
            if (next != null) {
                next.run();
            } else {
                release();
            }
        }
    }

    /** Gives free slots to connections waiting for one, after a {@link #backOff} that kept them waiting ended. */
    void admitWaiting() {
        while (!waiting.isEmpty() && reserve()) {
            Runnable next = waiting.poll();
            if (next == null) {
                release();
                return;
            }
            next.run();
        }
    }

    /** Whether any per-client limit is on; when not, {@link #admit} and {@link #clientClosed} need not be called. */
    boolean perClient() {
        return maxPerClient > 0 || maxRatePerClient > 0;
    }

    /**
     * Counts a new connection from {@code client} against the per-client limits: {@code null} when it may be
     * served (then {@link #clientClosed} must follow when it closes), or the limit that refuses it.
     */
    ClientLimit admit(InetAddress client) {
        for (;;) {
            Client c = clients.computeIfAbsent(client, k -> new Client());
            synchronized (c) {
                if (c.removed) {
                    continue; // swept between the lookup and the lock
                }
                if (maxPerClient > 0 && c.open >= maxPerClient) {
                    return ClientLimit.CONNECTIONS;
                }
                if (maxRatePerClient > 0) {
                    long now = nanoTime.getAsLong();
                    if (now - c.windowStart >= SECOND) {
                        c.windowStart = now;
                        c.inWindow = 0;
                    }
                    if (c.inWindow >= maxRatePerClient) {
                        return ClientLimit.RATE;
                    }
                    c.inWindow++;
                }
                c.open++;
                return null;
            }
        }
    }

    /** A connection {@link #admit} let through has closed. */
    void clientClosed(InetAddress client) {
        Client c = clients.get(client);
        if (c != null) {
            synchronized (c) {
                c.open--;
            }
        }
    }

    /** Forgets clients with nothing open whose rate window has ended; run every second or so. */
    void sweep() {
        long now = nanoTime.getAsLong();
        clients.forEach((address, c) -> {
            synchronized (c) {
                if (c.open == 0 && now - c.windowStart >= SECOND) {
                    c.removed = true;
                    clients.remove(address, c);
                }
            }
        });
    }

    /** Client addresses tracked now, for tests. */
    int trackedClients() {
        return clients.size();
    }

    /** One client address: its open connections and its current one-second window. */
    private static final class Client {
        int open;
        long windowStart = Long.MIN_VALUE / 2;
        int inWindow;
        boolean removed;
    }
}
