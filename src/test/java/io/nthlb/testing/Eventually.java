package io.nthlb.testing;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Predicate;

/**
 * Asks again until a condition holds, for state that trails the event a test can wait on (the relay credits
 * bytes right after flushing them; a process writes its log line some time after it starts). Between asks it
 * parks, from 1 ms doubling up to 50 ms, so the loop it waits for gets the CPU instead of a spinning test.
 */
public final class Eventually {

    /** How long a test waits before it gives up, unless it says otherwise. */
    public static final Duration LIMIT = Duration.ofSeconds(30);

    private static final long FIRST_PAUSE = TimeUnit.MILLISECONDS.toNanos(1);
    private static final long LONGEST_PAUSE = TimeUnit.MILLISECONDS.toNanos(50);

    private Eventually() {
    }

    /** Something to ask; an exception it throws fails the test. */
    @FunctionalInterface
    public interface Probe<T> {
        T get() throws Exception;
    }

    /** A condition to test; an exception it throws fails the test. */
    @FunctionalInterface
    public interface Condition {
        boolean holds() throws Exception;
    }

    /**
     * The first answer that satisfies {@code done}, or the last one asked when {@link #LIMIT} runs out, for the
     * caller's assertion to show.
     */
    public static <T> T await(Probe<T> probe, Predicate<T> done) {
        return await(probe, done, LIMIT);
    }

    /** {@link #await(Probe, Predicate)} with a limit of its own. */
    public static <T> T await(Probe<T> probe, Predicate<T> done, Duration limit) {
        long deadline = System.nanoTime() + limit.toNanos();
        long pause = FIRST_PAUSE;
        while (true) {
            T answer = ask(probe);
            if (done.test(answer) || System.nanoTime() - deadline >= 0) {
                return answer;
            }
            LockSupport.parkNanos(pause);
            if (Thread.interrupted()) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted while waiting; the last answer was " + answer);
            }
            pause = Math.min(pause * 2, LONGEST_PAUSE);
        }
    }

    /**
     * Waits until {@code condition} holds.
     *
     * @throws AssertionError naming {@code what} when it does not within {@link #LIMIT}
     */
    public static void until(Condition condition, String what) {
        until(condition, what, LIMIT);
    }

    /** {@link #until(Condition, String)} with a limit of its own. */
    public static void until(Condition condition, String what, Duration limit) {
        if (!await(condition::holds, Boolean::booleanValue, limit)) {
            throw new AssertionError("not within " + limit + ": " + what);
        }
    }

    private static <T> T ask(Probe<T> probe) {
        try {
            return probe.get();
        } catch (Exception e) {
            throw new AssertionError("asking failed", e);
        }
    }
}
