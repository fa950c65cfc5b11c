package io.nthlb.health;

import io.nthlb.proxy.Addresses;
import io.nthlb.proxy.ConnectCheck;
import io.nthlb.proxy.Ending;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The health of the backends the rules can send connections to: each gets a TCP connect check every interval
 * (the backends' checks spread evenly over the interval, on a thread of their own), and a connection nthlb
 * could not make to it counts as a failed check. An up backend goes down after {@code fall} failures in a row
 * and a down one comes up after {@code rise} successes in a row, as in HAProxy; a backend not checked yet is
 * up, and goes down at its first failure. Every change is logged with its reason.
 *
 * <p>{@link #isDown} is what decisions ask, from any event loop: one map lookup and a volatile read.
 */
public final class BackendHealth implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(BackendHealth.class);

    /**
     * One backend's state, as {@code GET /backends} shows it.
     *
     * @param since     when it last went up or down, or when checking it began
     * @param checkedAt when the last check had its result, or {@code null} before the first
     * @param lastError the last failure (a check's or a connection's), or {@code null}
     * @param errorAt   when that failure was, or {@code null}
     */
    public record Status(InetSocketAddress backend, boolean up, Instant since, Instant checkedAt, String lastError,
                         Instant errorAt) {
    }

    private final Duration interval;
    private final Duration checkTimeout;
    private final int fall;
    private final int rise;
    private final ConnectCheck checks;
    private final Map<InetSocketAddress, Tracked> tracked = new ConcurrentHashMap<>();
    /** The tracked backends in the rules' order, for listings. */
    private volatile List<Tracked> order = List.of();

    private BackendHealth(FailoverOptions options, Duration connectTimeout, ConnectCheck checks) {
        this.interval = options.checkInterval();
        this.fall = options.fall();
        this.rise = options.rise();
        // A check must end before the next one of the same backend is due.
        this.checkTimeout = connectTimeout.compareTo(interval) < 0 ? connectTimeout : interval;
        this.checks = checks;
    }

    /**
     * Starts checking {@code backends}.
     *
     * @param options        with a check interval
     * @param connectTimeout how long a check waits for the backend at most (and never longer than the interval)
     */
    public static BackendHealth start(FailoverOptions options, Duration connectTimeout,
                                      Collection<InetSocketAddress> backends) {
        if (!options.checksHealth()) {
            throw new IllegalArgumentException("options: " + options + " (expected: a check interval)");
        }
        BackendHealth health = new BackendHealth(options, connectTimeout, ConnectCheck.start());
        health.track(backends);
        return health;
    }

    /**
     * Makes {@code backends} the ones checked, for a reload: those already checked keep their state and their
     * schedule, new ones start as never checked, and the rest are no longer checked.
     */
    public synchronized void track(Collection<InetSocketAddress> backends) {
        Map<InetSocketAddress, Tracked> next = new LinkedHashMap<>();
        List<Tracked> added = new ArrayList<>();
        for (InetSocketAddress backend : backends) {
            if (!next.containsKey(backend)) {
                Tracked t = tracked.get(backend);
                if (t == null) {
                    t = new Tracked(backend);
                    added.add(t);
                }
                next.put(backend, t);
            }
        }
        for (Tracked t : order) {
            if (!next.containsKey(t.backend)) {
                tracked.remove(t.backend);
                t.schedule.cancel(false);
            }
        }
        long step = interval.toNanos() / Math.max(1, added.size());
        for (int i = 0; i < added.size(); i++) {
            Tracked t = added.get(i);
            tracked.put(t.backend, t);
            t.schedule = checks.scheduler().scheduleAtFixedRate(t, i * step, interval.toNanos(), TimeUnit.NANOSECONDS);
        }
        order = List.copyOf(next.values());
    }

    /** Whether {@code backend} is checked and down now; a backend that is not checked is never down. */
    public boolean isDown(InetSocketAddress backend) {
        Tracked t = tracked.get(backend);
        return t != null && !t.up;
    }

    /** A real connection to {@code backend} could not be made: counts as a failed check. */
    public void connectFailed(InetSocketAddress backend, Ending failure) {
        Tracked t = backend == null ? null : tracked.get(backend);
        if (t != null) {
            t.record(failure.label() + " (connection)");
        }
    }

    /** Every checked backend's state, in the rules' order. */
    public List<Status> statuses() {
        List<Status> statuses = new ArrayList<>();
        for (Tracked t : order) {
            statuses.add(t.status());
        }
        return statuses;
    }

    /** Stops checking. */
    @Override
    public void close() {
        checks.close();
    }

    /** One checked backend: its counts and state, and the task that checks it. */
    private final class Tracked implements Runnable {
        final InetSocketAddress backend;
        volatile boolean up = true;
        /** No check or connection has had a result yet: the first failure takes it down. */
        private boolean fresh = true;
        private int failures;
        private int successes;
        private Instant since = Instant.now();
        private Instant checkedAt;
        private String lastError;
        private Instant errorAt;
        /** A check is in progress; read and written on the check thread only. */
        private boolean checking;
        ScheduledFuture<?> schedule;

        Tracked(InetSocketAddress backend) {
            this.backend = backend;
        }

        /** Due: checks the backend, unless the last check has not finished. */
        @Override
        public void run() {
            if (checking) {
                return;
            }
            checking = true;
            checks.check(backend, checkTimeout, failure -> {
                checking = false;
                checked();
                if (failure == null) {
                    succeeded();
                } else {
                    record(failure.label() + " (check)");
                }
            });
        }

        synchronized void checked() {
            checkedAt = Instant.now();
        }

        synchronized void succeeded() {
            fresh = false;
            failures = 0;
            if (!up && ++successes >= rise) {
                up = true;
                since = Instant.now();
                log.info("backend {} is up: {} successful check(s) in a row", Addresses.format(backend), successes);
            }
        }

        synchronized void record(String error) {
            successes = 0;
            lastError = error;
            errorAt = Instant.now();
            if (up && ++failures >= (fresh ? 1 : fall)) {
                up = false;
                since = errorAt;
                log.warn("backend {} is down: {} failure(s) in a row, the last: {}", Addresses.format(backend),
                        failures, error);
                failures = 0;
            }
            fresh = false;
        }

        synchronized Status status() {
            return new Status(backend, up, since, checkedAt, lastError, errorAt);
        }
    }
}
