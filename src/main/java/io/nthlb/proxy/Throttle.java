package io.nthlb.proxy;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Lets a recurring warning through at most once per interval for each key (a listener, a backend), and says
 * how many times it happened since the last one that went through: under a flood of failures the log gets
 * one line per interval instead of one per failure. Thread-safe.
 */
public final class Throttle {

    /** How often a recurring warning is repeated at most, for each thing it is about. */
    public static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(10);

    private final long intervalNanos;
    private final Map<Object, Window> windows = new ConcurrentHashMap<>();

    public Throttle(Duration interval) {
        this.intervalNanos = interval.toNanos();
    }

    private static final class Window {
        /** When the next report may go out; a new key may report at once. */
        private long nextNanos = System.nanoTime();
        private long count;
    }

    /**
     * Counts one occurrence for {@code key}. Returns how many to report now (this one and those held back since
     * the last report), or 0 when the interval since the last report has not passed.
     */
    public long occurred(Object key) {
        Window w = windows.computeIfAbsent(key, k -> new Window());
        long now = System.nanoTime();
        synchronized (w) {
            w.count++;
            if (now - w.nextNanos < 0) {
                return 0;
            }
            long n = w.count;
            w.count = 0;
            w.nextNanos = now + intervalNanos;
            return n;
        }
    }

    /** The interval, in whole seconds, for log lines that say "in the last N s". */
    public long intervalSeconds() {
        return Math.max(1, intervalNanos / 1_000_000_000L);
    }
}
