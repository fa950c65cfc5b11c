package io.nthlb.cli;

import io.nthlb.proxy.Sysctl;
import io.nthlb.rules.Chain;
import io.nthlb.rules.DnatTarget;
import io.nthlb.rules.RedirectTarget;
import io.nthlb.rules.Rule;
import io.nthlb.rules.Ruleset;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Whether the host's sysctls let TIME_WAIT run nthlb out of source ports toward a backend. nthlb usually closes
 * its backend connection first (it passes on the client's FIN), so each one leaves a socket in TIME_WAIT for
 * 60 s that holds its source port toward that backend address and port; without net.ipv4.tcp_tw_reuse=1 a
 * new connection cannot take such a port, and the port range then caps the new connections per second to one
 * backend (28,232 ports by default: about 470 a second).
 */
final class TimeWaitCheck {

    private static final Path TW_REUSE = Path.of("/proc/sys/net/ipv4/tcp_tw_reuse");
    private static final Path PORT_RANGE = Path.of("/proc/sys/net/ipv4/ip_local_port_range");
    /** TIME_WAIT's length on Linux (TCP_TIMEWAIT_LEN), fixed at compile time. */
    private static final int TIME_WAIT_SECONDS = 60;

    private TimeWaitCheck() {
    }

    /** The warning for this host and {@code rules}, or none when the sysctls cannot be read or leave no risk. */
    static Optional<String> check(Ruleset rules, int sourceAddresses) {
        try {
            int reuse = Sysctl.ints(TW_REUSE)[0];
            int[] range = Sysctl.ints(PORT_RANGE);
            return warning(reuse, range[0], range[1], allBackendsOnLoopback(rules), sourceAddresses);
        } catch (IOException | RuntimeException e) {
            return Optional.empty(); // not Linux, or /proc not mounted: nothing to say
        }
    }

    /**
     * The warning, if any: {@code reuse} is tcp_tw_reuse (0 off, 1 on, 2 on for loopback only), {@code low} and
     * {@code high} the ephemeral port range, {@code sources} the number of --source addresses (0: the kernel's
     * choice, one address).
     */
    static Optional<String> warning(int reuse, int low, int high, boolean loopbackOnly, int sources) {
        if (reuse == 1 || (reuse == 2 && loopbackOnly)) {
            return Optional.empty();
        }
        int ports = high - low + 1;
        long perSecond = (long) ports * Math.max(1, sources) / TIME_WAIT_SECONDS;
        return Optional.of("net.ipv4.tcp_tw_reuse = " + reuse + (reuse == 2 ? " (loopback only)" : "")
                + " and net.ipv4.ip_local_port_range = " + low + " " + high + ": each connection nthlb closes toward"
                + " a backend keeps its source port in TIME_WAIT for " + TIME_WAIT_SECONDS + " s, so "
                + (perSecond == 0 ? "less than one new connection" : "at most about " + perSecond + " new connections")
                + " per second can go to one backend address and port before connects"
                + " fail with EADDRNOTAVAIL (end=local-error). Remedies: sysctl -w net.ipv4.tcp_tw_reuse=1, or spread"
                + " backend connections over several local addresses with --source ADDR[-ADDR]");
    }

    private static boolean allBackendsOnLoopback(Ruleset rules) {
        for (Chain chain : rules.chains()) {
            for (Rule rule : chain.rules()) {
                if (rule.target() instanceof DnatTarget dnat
                        && ((dnat.firstAddress() >>> 24) != 127 || (dnat.lastAddress() >>> 24) != 127)) {
                    return false;
                }
                // REDIRECT keeps the address the client connected to, which the kernel's loopback test (127.0.0.0/8
                // only) does not count as loopback unless the client came over 127.0.0.1 itself.
                if (rule.target() instanceof RedirectTarget) {
                    return false;
                }
            }
        }
        return true;
    }
}
