package io.nthlb.proxy;

import java.time.Duration;
import java.util.Objects;

/**
 * How UDP flows are kept: the two conntrack timeouts and the size of the flow table; built once from the
 * command line.
 *
 * @param timeout       how long a flow that has seen no reply lives after its last datagram
 *                      ({@code nf_conntrack_udp_timeout})
 * @param streamTimeout how long a flow that has been answered, and is older than
 *                      {@value #STREAM_AFTER_SECONDS} s, lives after its last datagram
 *                      ({@code nf_conntrack_udp_timeout_stream})
 * @param maxFlows      the most flows kept at once; a datagram that would start one more is dropped
 */
public record UdpOptions(Duration timeout, Duration streamTimeout, int maxFlows) {

    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);
    public static final Duration DEFAULT_STREAM_TIMEOUT = Duration.ofSeconds(120);
    /** The kernel gives an answered flow the stream timeout only once it is still active this long after it began. */
    public static final int STREAM_AFTER_SECONDS = 2;

    public UdpOptions {
        Objects.requireNonNull(timeout, "timeout");
        Objects.requireNonNull(streamTimeout, "streamTimeout");
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("--udp-timeout: " + timeout + " (expected: > 0)");
        }
        if (streamTimeout.isNegative() || streamTimeout.isZero()) {
            throw new IllegalArgumentException("--udp-stream-timeout: " + streamTimeout + " (expected: > 0)");
        }
        if (maxFlows < 1) {
            throw new IllegalArgumentException("--udp-max-flows: " + maxFlows + " (expected: >= 1)");
        }
    }

    /** The kernel's timeouts and {@link #defaultMaxFlows()}. */
    public static UdpOptions defaults() {
        return new UdpOptions(DEFAULT_TIMEOUT, DEFAULT_STREAM_TIMEOUT, defaultMaxFlows());
    }

    /**
     * Half the process's file-descriptor limit: each flow holds one socket towards its backend, and the other half
     * is left to TCP connections and listeners. At least 1024.
     */
    public static int defaultMaxFlows() {
        return (int) Math.min(Integer.MAX_VALUE, Math.max(1024, Limits.openFilesLimit(Limits.PROC_LIMITS) / 2));
    }

    public UdpOptions withTimeout(Duration d) {
        return new UdpOptions(d, streamTimeout, maxFlows);
    }

    public UdpOptions withStreamTimeout(Duration d) {
        return new UdpOptions(timeout, d, maxFlows);
    }

    public UdpOptions withMaxFlows(int n) {
        return new UdpOptions(timeout, streamTimeout, n);
    }
}
