package io.nthlb.proxy;

/** How a relayed connection ended, as the access log and the metrics name it. */
public enum Ending {
    /** Both directions finished with a FIN and were flushed. */
    CLOSED("closed"),
    /** The client reset its connection (or it failed); the backend was reset. */
    CLIENT_RESET("client-reset"),
    /** The backend reset its connection (or it failed); the client was reset. */
    BACKEND_RESET("backend-reset"),
    /** The backend refused the connection; the client was reset. */
    REFUSED("refused"),
    /** The backend's address could not be reached (no route, host down); the client was reset. */
    UNREACHABLE("unreachable"),
    /**
     * nthlb could not open the connection to the backend itself (out of file descriptors or source ports: see
     * {@link LocalFailure}); the backend is not at fault. The client was reset.
     */
    LOCAL_ERROR("local-error"),
    /** The backend did not answer within the connect timeout; the client was reset. */
    TIMEOUT("timeout"),
    /** No rule sends this connection anywhere; the client was reset at once. */
    NO_RULE("no-rule"),
    /**
     * With {@code --accept-proxy}: the connection did not start with a valid PROXY header within the header
     * timeout (none, malformed or truncated); it was reset and no backend was contacted.
     */
    BAD_PROXY_HEADER("bad-proxy-header"),
    /** Neither side sent anything for the idle timeout; both were reset. */
    IDLE_TIMEOUT("idle-timeout"),
    /** Still open when the drain timeout ran out at shutdown; both were reset. */
    DRAIN_TIMEOUT("drain-timeout"),
    /** A UDP flow that carried nothing for its timeout (30 s one way, 120 s once answered): conntrack forgets it. */
    UDP_TIMEOUT("udp-timeout"),
    /** A UDP flow whose listener closed (shutdown, or a reload that no longer needs it). */
    STOPPED("stopped");

    private final String label;

    Ending(String label) {
        this.label = label;
    }

    /** The word the access log prints. */
    public String label() {
        return label;
    }

    /** Whether the client was sent a reset rather than a clean end. */
    public boolean resetsClient() {
        return this != CLOSED && this != CLIENT_RESET && this != UDP_TIMEOUT && this != STOPPED;
    }

    @Override
    public String toString() {
        return label;
    }
}
