package io.nthlb.health;

import java.time.Duration;

/**
 * What nthlb does about backends that cannot be reached, beyond what the kernel does: retries of a failed
 * connect, and health checks that take a backend out of the decisions while it is down. Both are off by
 * default, and then every decision and every failure is the kernel's.
 *
 * @param retries       how many more times a connection is decided again and connected again when connecting
 *                      to its backend fails, before the client is reset
 * @param checkInterval how often each backend gets a TCP connect check, or {@code null} for no health checks
 * @param fall          failed checks in a row that take an up backend down
 * @param rise          successful checks in a row that bring a down backend up
 */
public record FailoverOptions(int retries, Duration checkInterval, int fall, int rise) {

    /** HAProxy's defaults for {@code fall} and {@code rise}. */
    public static final int DEFAULT_FALL = 3;
    public static final int DEFAULT_RISE = 2;
    /** The kernel's behaviour: no retries, no health checks. */
    public static final FailoverOptions NONE = new FailoverOptions(0, null, DEFAULT_FALL, DEFAULT_RISE);

    public FailoverOptions {
        if (retries < 0) {
            throw new IllegalArgumentException("--retries: " + retries + " (expected: >= 0)");
        }
        if (checkInterval != null && (checkInterval.isNegative() || checkInterval.isZero())) {
            throw new IllegalArgumentException("--health-check: " + checkInterval.toMillis() + "ms (expected: > 0)");
        }
        if (fall < 1) {
            throw new IllegalArgumentException("--health-fall: " + fall + " (expected: >= 1)");
        }
        if (rise < 1) {
            throw new IllegalArgumentException("--health-rise: " + rise + " (expected: >= 1)");
        }
    }

    /** Whether backends get health checks. */
    public boolean checksHealth() {
        return checkInterval != null;
    }
}
