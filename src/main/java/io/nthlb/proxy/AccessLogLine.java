package io.nthlb.proxy;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The line the access log ({@code nthlb.access}) gets for each connection or UDP flow, written when it ends. */
final class AccessLogLine {

    private static final Logger accessLog = LoggerFactory.getLogger("nthlb.access");

    private AccessLogLine() {
    }

    /** Writes the line of a connection or flow that has just ended. */
    static void ended(Connection c) {
        if (accessLog.isInfoEnabled()) {
            accessLog.info("conn={} client={} vip={} rule={} backend={} from_client={} from_backend={} duration_us={} end={}"
                            + " retries={}",
                    c.id(), Addresses.format(c.client()), Addresses.format(c.local()), quoteIfSpaced(c.route().label()),
                    Addresses.format(c.route().backend()), c.bytesFromClient(), c.bytesFromBackend(),
                    c.durationNanos() / 1000, c.ending().label(), c.retries());
        }
    }

    /** A label such as {@code PREROUTING policy ACCEPT} in quotes, so every access-log field is one word. */
    private static String quoteIfSpaced(String label) {
        return label.indexOf(' ') < 0 ? label : '"' + label + '"';
    }
}
