package io.nthlb.admin;

import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * Asks again until an answer satisfies a condition, for state that trails the event a test waits on by a
 * hair (the relay credits bytes right after flushing them). No sleeping: each probe is a request.
 */
final class Eventually {

    private Eventually() {
    }

    /** The first answer that satisfies {@code done}, or the last one asked within ten seconds. */
    static <T> T await(Supplier<T> probe, Predicate<T> done) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        T answer = probe.get();
        while (!done.test(answer) && System.nanoTime() < deadline) {
            answer = probe.get();
        }
        return answer;
    }
}
