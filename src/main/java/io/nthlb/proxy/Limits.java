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

    /** The most connections the admin endpoint holds at once: the data plane leaves their descriptors alone. */
    public static final int ADMIN_CONNECTIONS = 64;

    /**
     * Descriptors kept back from connections and UDP flows, on top of those open once the table's listeners are:
     * the admin endpoint's clients ({@link #ADMIN_CONNECTIONS}), and 64 for its listener, log files, jars opened
     * late and a reload's new listeners.
     */
    static final int DESCRIPTOR_MARGIN = 64 + ADMIN_CONNECTIONS;

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
        long[] limitAndOpen = descriptors();
        return limitAndOpen == null ? Integer.MAX_VALUE : fromDescriptorLimit(limitAndOpen[0], limitAndOpen[1]);
    }

    /** The soft limit on open files and the descriptors open now, or {@code null} where /proc cannot tell. */
    static long[] descriptors() {
        try (Stream<Path> open = Files.list(Path.of("/proc/self/fd"))) {
            long limit = openFilesLimit(PROC_LIMITS);
            if (limit > 0) {
                return new long[] {limit, open.count()};
            }
        } catch (IOException | RuntimeException e) {
            // Not Linux, or no /proc: nothing to derive a limit from.
        }
        return null;
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
        return divide(limit, open, 0, 0, true, 0).maxConnections();
    }

    /**
     * The TCP connections and UDP flows served at once.
     *
     * @param maxConnections connections at once, each with two descriptors
     * @param maxFlows       UDP flows at once, each with one descriptor (its socket towards the backend), or two
     *                       on a wildcard listener (and a socket replies leave from)
     */
    record Budget(int maxConnections, int maxFlows) {}

    /**
     * Divides the descriptors the limit leaves, after those open now and {@link #DESCRIPTOR_MARGIN}, between TCP
     * connections and UDP flows. A figure given ({@code maxConnections} or {@code maxFlows} above 0) is kept, and
     * the other gets what it leaves. When both are derived and the table listens for both, each gets half the
     * room; a table that listens for only one gives it the whole room, and the other keeps the figure it would
     * have alone, unused until a reload adds such listeners. Each is at least 1.
     *
     * @param tcp                whether the table has TCP listeners
     * @param descriptorsPerFlow 0 when the table has no UDP listeners, else what one flow holds (1, or 2 when a
     *                           listener is a wildcard)
     */
    static Budget divide(long limit, long open, int maxConnections, int maxFlows, boolean tcp,
                         int descriptorsPerFlow) {
        long room = Math.max(0, limit - open - DESCRIPTOR_MARGIN);
        boolean shared = tcp && descriptorsPerFlow > 0;
        int perFlow = Math.max(1, descriptorsPerFlow);
        long connections = maxConnections > 0 ? maxConnections
                : !shared ? room / 2
                : maxFlows > 0 ? (room - (long) perFlow * maxFlows) / 2
                : room / 4;
        long flows = maxFlows > 0 ? maxFlows
                : !shared ? room / perFlow
                : (room - 2 * connections) / perFlow;
        return new Budget(atLeastOne(connections), atLeastOne(flows));
    }

    private static int atLeastOne(long n) {
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, n));
    }
}
