package io.nthlb.proxy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * How many connections nthlb serves: at most {@code maxConnections} at once in all (the rest wait in the
 * kernel's backlog), and, when asked for, at most {@code maxPerClient} at once and {@code maxRatePerClient}
 * new ones per second from one client address.
 *
 * @param maxConnections   connections served at once; 0 derives it from the descriptor limit when the data
 *                         plane starts (see {@link #fromDescriptorLimit})
 * @param maxPerClient     connections open at once from one client address; 0 for no limit (the default)
 * @param maxRatePerClient new connections per second from one client address; 0 for no limit (the default)
 */
public record Limits(int maxConnections, int maxPerClient, int maxRatePerClient) {

    /** The default: as many connections as the descriptor limit allows, and no limit per client. */
    public static final Limits DEFAULT = new Limits(0, 0, 0);

    /**
     * Descriptors kept back from connections, on top of those open when the data plane starts: the listening
     * sockets (one per event loop and address), the admin endpoint and its clients, log files, jars opened late.
     */
    static final int DESCRIPTOR_MARGIN = 64;

    public Limits {
        if (maxConnections < 0) {
            throw new IllegalArgumentException("maxConnections: " + maxConnections + " (expected: >= 1, or 0 to derive)");
        }
        if (maxPerClient < 0) {
            throw new IllegalArgumentException("maxPerClient: " + maxPerClient + " (expected: >= 0)");
        }
        if (maxRatePerClient < 0) {
            throw new IllegalArgumentException("maxRatePerClient: " + maxRatePerClient + " (expected: >= 0)");
        }
    }

    public Limits withMaxConnections(int n) {
        return new Limits(n, maxPerClient, maxRatePerClient);
    }

    public Limits withMaxPerClient(int n) {
        return new Limits(maxConnections, n, maxRatePerClient);
    }

    public Limits withMaxRatePerClient(int n) {
        return new Limits(maxConnections, maxPerClient, n);
    }

    /** Whether any per-client limit is on. */
    boolean perClient() {
        return maxPerClient > 0 || maxRatePerClient > 0;
    }

    /**
     * The connections the descriptor limit leaves room for: each takes two descriptors (the client's and the
     * backend's), and {@link #DESCRIPTOR_MARGIN} plus those open now (the JVM's, the event loops') are kept back.
     * Read from /proc rather than through the JVM's management beans, which would load JMX before the listeners
     * open; where /proc cannot tell (not Linux), there is no limit.
     */
    public static int fromDescriptorLimit() {
        try (Stream<Path> open = Files.list(Path.of("/proc/self/fd"))) {
            long limit = openFilesLimit(PROC_LIMITS);
            if (limit > 0) {
                return fromDescriptorLimit(limit, open.count());
            }
        } catch (IOException | RuntimeException e) {
            // Not Linux, or no /proc: nothing to derive a limit from.
        }
        return Integer.MAX_VALUE;
    }

    static final Path PROC_LIMITS = Path.of("/proc/self/limits");

    /**
     * The soft limit on open files as {@code limits} (the format of /proc/self/limits) gives it: {@link Long#MAX_VALUE}
     * for unlimited, 0 when it cannot be read.
     */
    static long openFilesLimit(Path limits) {
        try {
            for (String line : Files.readAllLines(limits)) {
                // "Max open files            20000                20000                files"
                if (line.startsWith("Max open files")) {
                    String soft = line.substring("Max open files".length()).trim().split("\\s+")[0];
                    return soft.equals("unlimited") ? Long.MAX_VALUE : Long.parseLong(soft);
                }
            }
        } catch (IOException | RuntimeException e) {
            // Not Linux, or a format this does not know.
        }
        return 0;
    }

    static int fromDescriptorLimit(long limit, long open) {
        long room = (limit - open - DESCRIPTOR_MARGIN) / 2;
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, room));
    }
}
