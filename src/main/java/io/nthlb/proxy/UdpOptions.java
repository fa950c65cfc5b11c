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
 * @param maxFlows      the most flows kept at once; a datagram that would start one more is dropped; 0 derives
 *                      it from the descriptor limit once the listeners are open (see {@link #defaultMaxFlows()})
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
        if (maxFlows < 0) {
            throw new IllegalArgumentException("--udp-max-flows: " + maxFlows + " (expected: >= 1, or 0 to derive)");
        }
    }

    /** The kernel's timeouts, and a flow table sized from the descriptor limit. */
    public static UdpOptions defaults() {
        return new UdpOptions(DEFAULT_TIMEOUT, DEFAULT_STREAM_TIMEOUT, 0);
    }

    /**
     * The flow table's size until the listeners are open and the descriptors are divided between TCP and UDP
     * (by the load balancer): half the process's file-descriptor limit, at least 1024.
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
        if (n < 1) {
            throw new IllegalArgumentException("--udp-max-flows: " + n + " (expected: >= 1)");
        }
        return new UdpOptions(timeout, streamTimeout, n);
    }
}
